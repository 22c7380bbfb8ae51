// Light enhancement only: every form works without it.
document.addEventListener("change", (e) => {
  const box = e.target;
  if (box.matches("input[data-check-all]")) {
    document.querySelectorAll(`input[name="${box.dataset.checkAll}"]`).forEach((b) => { b.checked = box.checked; });
  }
});
document.addEventListener("submit", (e) => {
  const msg = e.target.dataset.confirm;
  if (msg && !window.confirm(msg)) e.preventDefault();
});
