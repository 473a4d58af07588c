// Test-only (tests/test_decks.py): open the presenter view (the notes plugin's "S") in a real popup,
// move to the second slide, and report what the popup shows: its connection status, the notes of the
// current slide, the timer, and its slide previews (current and upcoming).
function coursePresenterProbe() {
  var opened = null, open = window.open;
  window.open = function () { opened = open.apply(window, arguments); return opened; };
  Reveal.getPlugin("notes").open();
  setTimeout(function () { Reveal.slide(1); }, 3000);
  setTimeout(function () {
    var doc = opened && opened.document, report = {opened: !!doc};
    if (doc) {
      var status = doc.getElementById("connection-status");
      var notes = doc.querySelector(".speaker-controls-notes .value");
      report.status = status && status.style.display === "none" ? "connected" : (status || {}).textContent;
      report.notes = notes ? notes.textContent.trim() : null;
      report.timer = (doc.querySelector(".speaker-controls-time .timer") || {}).textContent;
      report.previews = doc.querySelectorAll("#current-slide iframe, #upcoming-slide iframe").length;
      var expected = (Reveal.getSlides()[1].querySelector("aside.notes") || {}).textContent || "";
      var squash = function (text) { return (text || "").replace(/\s+/g, " ").trim(); };
      report.notesOfSecondSlide = report.notes !== null && squash(report.notes) === squash(expected) && squash(expected) !== "";
      report.notes = squash(report.notes).slice(0, 80);
      report.timer = squash(report.timer);
    }
    var out = document.createElement("pre");
    out.id = "course-presenter-probe";
    out.textContent = JSON.stringify(report);
    document.body.appendChild(out);
  }, 8000);
}
// Not in the speaker view's previews, which load this same page with ?receiver.
if (!/receiver/.test(location.search)) {
  if (Reveal.isReady()) { coursePresenterProbe(); } else { Reveal.on("ready", coursePresenterProbe); }
}
