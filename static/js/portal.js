// Behaviour the pages declare with data- attributes: no inline script (the Content-Security-Policy forbids it).
document.addEventListener("change", (event) => {
  const field = event.target.closest("[data-autosubmit]");
  if (field && field.form) {
    field.form.requestSubmit();
  }
});
document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-confirm]");
  if (form && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});
document.addEventListener("click", (event) => {
  // <button data-copy="element-id">: copies that element's text (an authorisation link) to the clipboard.
  const button = event.target.closest("[data-copy]");
  const source = button && document.getElementById(button.dataset.copy);
  if (source && navigator.clipboard) {
    navigator.clipboard.writeText(source.value || source.textContent.trim()).then(() => {
      button.textContent = "Copied";
    });
  }
});
