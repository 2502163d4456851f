// Document drafts: refuse to send while [[placeholders]] remain, and say when the preview is out of date.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("document-form");
  if (!form) return;
  const body = form.querySelector("textarea[name=body]");
  const note = document.getElementById("preview-note");
  const strings = { edited: note ? note.dataset.edited : "" };
  if (body && note) {
    body.addEventListener("input", () => {
      note.classList.add("msg", "msg-warning");
      if (strings.edited) note.textContent = strings.edited;
    }, { once: true });
  }
  form.addEventListener("submit", (event) => {
    const text = (form.querySelector("input[name=subject]").value || "") + (body ? body.value : "");
    const match = text.match(/\[\[[\s\S]*?\]\]/);
    if (match) {
      event.preventDefault();
      body.focus();
      const start = body.value.indexOf(match[0]);
      if (start >= 0) body.setSelectionRange(start, start + match[0].length);
      window.alert(form.dataset.placeholderMessage + "\n\n" + match[0]);
    }
  });
});
