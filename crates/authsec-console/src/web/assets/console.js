// authsec console: small progressive enhancements. Every page works without this file.
(function () {
  'use strict';
  document.documentElement.classList.add('js');

  function ready(fn) {
    if (document.readyState !== 'loading') fn(); else document.addEventListener('DOMContentLoaded', fn);
  }

  ready(function () {
    // Filter a table's rows as you type (the form still filters on the server without JS).
    document.querySelectorAll('input[data-filter-rows]').forEach(function (input) {
      var body = document.getElementById(input.getAttribute('data-filter-rows'));
      var summary = document.getElementById('tool-summary');
      if (!body) return;
      input.addEventListener('input', function () {
        var q = input.value.trim().toLowerCase();
        var shown = 0;
        Array.prototype.forEach.call(body.rows, function (row) {
          var hit = !q || (row.getAttribute('data-search') || '').indexOf(q) !== -1;
          row.hidden = !hit;
          if (hit) shown++;
        });
        if (summary) summary.setAttribute('data-shown', String(shown));
      });
    });

    // "Select every shown tool" for bulk mapping.
    document.querySelectorAll('input[data-select-all]').forEach(function (box) {
      var body = document.getElementById(box.getAttribute('data-select-all'));
      if (!body) return;
      box.addEventListener('change', function () {
        Array.prototype.forEach.call(body.rows, function (row) {
          var c = row.querySelector('input[type="checkbox"]');
          if (c && !row.hidden) c.checked = box.checked;
        });
      });
    });

    // Copy buttons next to secrets and snippets.
    document.querySelectorAll('button[data-copy]').forEach(function (button) {
      button.addEventListener('click', function () {
        var el = document.getElementById(button.getAttribute('data-copy'));
        if (!el || !navigator.clipboard) return;
        navigator.clipboard.writeText(el.textContent).then(function () {
          button.textContent = 'Copied';
        });
      });
    });
  });
})();
