/* The quiz runner's autosave: answers are saved as the attempt's draft while the user works, and
 * restored (or offered back from this browser's backup) when the page is opened again. */
(function () {
  "use strict";
  var form = document.getElementById("quiz-form");
  if (!form || !form.dataset.autosaveUrl || !window.Autosave) return;

  var fieldsets = Array.prototype.slice.call(form.querySelectorAll("fieldset[data-question-id]"));
  var currentIndex = 0;
  var earlierSeconds = 0;  // time spent in earlier visits, from the restored draft
  var openedAt = Date.now();

  function getState() {
    var answers = [];
    fieldsets.forEach(function (fieldset) {
      var checked = fieldset.querySelector("input[type=radio]:checked");
      if (checked) {
        answers.push({
          question_id: Number(fieldset.dataset.questionId),
          option_id: Number(checked.value),
        });
      }
    });
    var seconds = earlierSeconds + (Date.now() - openedAt) / 1000;
    return {
      current_question_index: currentIndex,
      answers: answers,
      time_spent: Math.round(seconds * 10) / 10,
    };
  }

  function applyState(state) {
    var chosen = {};
    ((state && state.answers) || []).forEach(function (a) { chosen[a.question_id] = a.option_id; });
    fieldsets.forEach(function (fieldset) {
      fieldset.querySelectorAll("input[type=radio]").forEach(function (input) {
        input.checked = chosen[fieldset.dataset.questionId] === Number(input.value);
      });
    });
    currentIndex = (state && state.current_question_index) || 0;
    earlierSeconds = (state && state.time_spent) || 0;
    openedAt = Date.now();
  }

  form.addEventListener("focusin", function (event) {
    var fieldset = event.target.closest("fieldset[data-question-id]");
    if (fieldset) currentIndex = fieldsets.indexOf(fieldset);
  });

  var saver = window.Autosave.attach({
    url: form.dataset.autosaveUrl,
    getState: getState,
    applyState: applyState,
    watch: form,
    debounce: Number(form.dataset.autosaveDebounce || 2000),
    interval: 30000,
  });
  // The submitted answers are the final save; the server drops the draft with the attempt and the
  // result page forgets the local backup, so a submit that fails on the way keeps it.
  form.addEventListener("submit", function () { saver.stop(); });
  window.quizAutosave = saver;
})();
