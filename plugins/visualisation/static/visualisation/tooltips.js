/* Tooltips for the server-drawn SVG charts: hover a point, or focus the chart with the keyboard
   and move between its points with the arrow keys (Home/End: first/last, Escape: hide).
   Charts work without this script: native SVG titles, summaries and data tables stay. */
(function () {
  "use strict";

  function enhance(svg) {
    var points = Array.prototype.slice.call(svg.querySelectorAll(".vis-point"));
    if (!points.length || svg.hasAttribute("data-vis-enhanced")) { return; }
    svg.setAttribute("data-vis-enhanced", "");
    points.forEach(function (point) {
      var title = point.querySelector("title");
      if (title) {  // our tooltip replaces the native one, which would show twice
        point.setAttribute("data-tip", title.textContent);
        title.parentNode.removeChild(title);
      }
    });
    var main = svg.querySelector(".vis-series--territory .vis-point");
    var current = main ? points.indexOf(main) : 0;
    var box = svg.parentNode;
    var tip = document.createElement("div");
    tip.className = "vis-tooltip";
    tip.setAttribute("role", "status");
    tip.hidden = true;
    box.appendChild(tip);
    svg.setAttribute("tabindex", "0");
    svg.setAttribute("aria-keyshortcuts", "ArrowLeft ArrowRight Home End Escape");

    function show(point) {
      points.forEach(function (p) { p.classList.remove("is-active"); });
      point.classList.add("is-active");
      tip.textContent = point.getAttribute("data-tip") || "";
      var outer = box.getBoundingClientRect();
      var inner = point.getBoundingClientRect();
      tip.style.left = (inner.left + inner.width / 2 - outer.left) + "px";
      tip.style.top = (inner.top - outer.top) + "px";
      tip.hidden = false;
    }

    function hide() {
      tip.hidden = true;
      points.forEach(function (p) { p.classList.remove("is-active"); });
    }

    svg.addEventListener("mouseover", function (event) {
      var point = event.target.closest && event.target.closest(".vis-point");
      if (point) { current = points.indexOf(point); show(point); }
    });
    svg.addEventListener("mouseleave", function () { if (document.activeElement !== svg) { hide(); } });
    svg.addEventListener("focus", function () { show(points[current]); });
    svg.addEventListener("blur", hide);
    svg.addEventListener("keydown", function (event) {
      var moves = {ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1};
      if (event.key in moves) {
        current = (current + moves[event.key] + points.length) % points.length;
      } else if (event.key === "Home") {
        current = 0;
      } else if (event.key === "End") {
        current = points.length - 1;
      } else if (event.key === "Escape") {
        hide();
        return;
      } else {
        return;
      }
      event.preventDefault();
      show(points[current]);
    });
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("svg.vis-chart"), enhance);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
}());
