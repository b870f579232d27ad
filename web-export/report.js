/* report.js: the HTML report's only script (web-export/html.c), inlined with its SHA-256
   in the report's Content-Security-Policy. It holds no data: it filters and sorts the
   rows of the problem table as the page already shows them, reading the cells' text
   and the numbers the report wrote into data-v attributes. Without it the report is
   complete, in time order. */
(function () {
  'use strict';
  var table = document.getElementById('ptable');
  var ctl = document.getElementById('pctl');
  if (!table || !ctl) {
    return;
  }
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var query = document.getElementById('pq');
  var verdict = document.getElementById('pv');
  var shown = document.getElementById('pshown');
  var heads = table.tHead.rows[0].cells;

  function apply() {
    var text = query.value.toLowerCase();
    var want = verdict.value;
    var n = 0;
    rows.forEach(function (r) {
      var ok = (!want || r.getAttribute('data-verdict') === want) &&
               (!text || r.textContent.toLowerCase().indexOf(text) >= 0);
      r.hidden = !ok;
      if (ok) {
        n++;
      }
    });
    shown.textContent = n + ' of ' + rows.length + ' shown';
  }

  /* A number cell sorts by data-v; an empty one (no value) sorts after every number. */
  function key(r, i, num) {
    var c = r.cells[i];
    if (!num) {
      return c.textContent;
    }
    var v = c.getAttribute('data-v');
    return v === null || v === '' ? null : parseFloat(v);
  }

  function sortBy(i) {
    var th = heads[i];
    var dir = th.getAttribute('aria-sort') === 'ascending' ? -1 : 1;
    var num = th.classList.contains('n');
    Array.prototype.forEach.call(heads, function (h) {
      h.removeAttribute('aria-sort');
    });
    th.setAttribute('aria-sort', dir > 0 ? 'ascending' : 'descending');
    rows.sort(function (a, b) {
      var x = key(a, i, num);
      var y = key(b, i, num);
      var c;
      if (x === null || y === null) {
        c = x === y ? 0 : x === null ? 1 : -1;
        if (c) {
          return c;
        }
      } else {
        c = num ? x - y : x.localeCompare(y);
      }
      return c * dir || a.getAttribute('data-i') - b.getAttribute('data-i');
    });
    rows.forEach(function (r) {
      body.appendChild(r);
    });
  }

  Array.prototype.forEach.call(heads, function (th, i) {
    th.tabIndex = 0;
    th.title = 'sort';
    th.addEventListener('click', function () {
      sortBy(i);
    });
    th.addEventListener('keydown', function (e) {
      if (e.key === 'Enter' || e.key === ' ') {
        e.preventDefault();
        sortBy(i);
      }
    });
  });
  query.addEventListener('input', apply);
  verdict.addEventListener('change', apply);
  ctl.hidden = false;
  apply();
}());
