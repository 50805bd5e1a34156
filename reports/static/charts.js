// Draws every chart of a page with the plotly.js shipped beside it (no CDN). A chart is an element
// with data-figure="<id of a JSON script>"; once drawn it carries data-drawn="1" (tests wait on it).
// Pages with filters (the overview) set window.phmRedraw(figures) to swap every chart's figure.
(function () {
  "use strict";
  var config = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["toImage"] };
  function figureOf(id) {
    return JSON.parse(document.getElementById(id).textContent);
  }
  function draw(el, fig) {
    el.dataset.drawn = "0";
    return Plotly.react(el, fig.data, fig.layout, config).then(function () {
      el.dataset.drawn = "1";
    });
  }
  window.phmDraw = draw;
  window.phmRedraw = function (figures) {
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var fig = figures[el.dataset.chart];
      if (fig) { draw(el, fig); }
    });
  };
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-figure]").forEach(function (el) {
      draw(el, figureOf(el.dataset.figure));
    });
  });
})();
