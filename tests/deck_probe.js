// Test-only (tests/test_decks.py): visit every slide, let the deck fit it, and report, per slide,
// the scale the deck chose and whatever lies outside the 1280x720 frame or cuts a code line.
function courseProbe() {
  var report = [];
  Reveal.getSlides().forEach(function (slide, n) {
    var indices = Reveal.getIndices(slide);
    Reveal.slide(indices.h, indices.v);
    fitSlide(slide);
    var frame = document.querySelector(".reveal .slides").getBoundingClientRect();
    var problems = [];
    slide.querySelectorAll("*").forEach(function (element) {
      if (element.closest("aside")) { return; }
      var box = element.getBoundingClientRect();
      if (box.width === 0 && box.height === 0) { return; }
      if (box.bottom > frame.bottom + 1 || box.right > frame.right + 1 || box.left < frame.left - 1 || box.top < frame.top - 1) {
        problems.push("outside: " + element.tagName.toLowerCase() + " " + Math.round(box.bottom - frame.bottom) + "px below, " + Math.round(box.right - frame.right) + "px right");
      }
      if ((element.tagName === "PRE" || element.tagName === "CODE") && element.scrollWidth > element.clientWidth + 1) {
        problems.push("cut code: " + element.textContent.slice(0, 40));
      }
    });
    var body = slide.querySelector(".deck-body");
    var scale = body && body.style.transform.match(/scale\(([0-9.]+)\)/);
    report.push({slide: n + 1, heading: (slide.querySelector("h1, h2") || {}).textContent,
                 scale: scale ? Number(scale[1]) : 1, problems: problems.slice(0, 3)});
  });
  var out = document.createElement("pre");
  out.id = "course-probe";
  out.textContent = JSON.stringify({total: Reveal.getTotalSlides(), slides: report});
  document.body.appendChild(out);
}
function courseProbeWhenTypeset() { MathJax.Hub.Queue(function () { setTimeout(courseProbe, 500); }); }
if (Reveal.isReady()) { courseProbeWhenTypeset(); } else { Reveal.on("ready", courseProbeWhenTypeset); }
