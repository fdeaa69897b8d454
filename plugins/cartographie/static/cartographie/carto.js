// Light enhancement of the server-drawn maps: the territory under the pointer or the keyboard
// focus is outlined, and its name and value are announced in a live region under the map.
(function () {
  "use strict";
  document.querySelectorAll("svg.carto-map").forEach(function (svg) {
    var live = document.createElement("p");
    live.className = "carto-live small";
    live.setAttribute("aria-live", "polite");
    svg.parentNode.insertBefore(live, svg.nextSibling);
    function show(event) {
      var path = event.target.closest("path[data-code]");
      if (!path) return;
      svg.querySelectorAll("path.is-active").forEach(function (p) { p.classList.remove("is-active"); });
      path.classList.add("is-active");
      var title = path.querySelector("title");
      live.textContent = title ? title.textContent : "";
    }
    svg.addEventListener("mouseover", show);
    svg.addEventListener("focusin", function (event) {
      var link = event.target.closest("a");
      if (link) show({ target: link.querySelector("path") });
    });
  });
})();
