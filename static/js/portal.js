// Small progressive enhancements; every page works without this file.
document.addEventListener("change", (event) => {
  const target = event.target;
  if (target instanceof HTMLSelectElement && target.classList.contains("autosubmit")) {
    target.form.submit();
  }
});
// Tables wider than their card scroll inside it: keyboard users can reach and scroll them too, and hear
// which table it is (the heading of its section).
function focusableTables() {
  for (const wrap of document.querySelectorAll(".tablewrap:not([tabindex])")) {
    wrap.tabIndex = 0;
    wrap.setAttribute("role", "region");
    const heading = wrap.closest("section, main")?.querySelector("h1, h2");
    if (heading) wrap.setAttribute("aria-label", heading.textContent.trim());
  }
}
document.addEventListener("DOMContentLoaded", focusableTables);
document.addEventListener("live:updated", focusableTables);
// A link to a part of a page (#scope, #resolution, #documents) opens the folded sections around it.
function openTarget() {
  const target = location.hash && document.getElementById(decodeURIComponent(location.hash.slice(1)));
  if (!target) return;
  for (let fold = target.closest("details"); fold; fold = fold.parentElement.closest("details")) fold.open = true;
  const inner = target.querySelector("details.fold");  // a section that is itself folded (#scope)
  if (inner) inner.open = true;
  target.scrollIntoView();
}
document.addEventListener("DOMContentLoaded", openTarget);
window.addEventListener("hashchange", openTarget);
