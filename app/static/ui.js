// report-qa web chat: citation links, section reader drawer, TOC filter, share links.
// Loaded from our own origin (the Content-Security-Policy allows no other script). Every element
// it adds is built with the DOM API from text, never from HTML strings.
(function () {
  "use strict";
  var SOURCES = "来源 Sources：";
  var CITE = /\[§\s*([0-9A](?:\.\d+)*)\s*\]|§([0-9A](?:\.\d+)*)/g;

  function q(sel, root) { return (root || document).querySelector(sel); }
  function qa(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }

  function link(cls, num, text) {
    var a = document.createElement("a");
    a.className = cls;
    a.href = "#sec-" + num;
    a.textContent = text;
    return a;
  }

  // ---- the phone drawer: opening it adds a history entry, so the phone's Back button closes it
  var NARROW = window.matchMedia("(max-width: 720px)");
  function drawerOpen() {
    return document.body.classList.contains("reader-open") || document.body.classList.contains("toc-open");
  }
  function showDrawer(kind) {
    if (NARROW.matches && !drawerOpen()) history.pushState({ reportQaDrawer: true }, "");
    document.body.classList.remove("reader-open", "toc-open");
    document.body.classList.add(kind);
  }
  function closeDrawer() {
    if (history.state && history.state.reportQaDrawer) history.back();  // popstate closes it
    else document.body.classList.remove("reader-open", "toc-open");
  }
  window.addEventListener("popstate", function () { document.body.classList.remove("reader-open", "toc-open"); });

  // ---- opening a section: the number goes to a hidden textbox, a hidden button runs the Python side
  function openSection(num) {
    var box = q("#chip-target textarea, #chip-target input");
    var btn = q("#chip-open");
    if (!box || !btn) return;
    var setter = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(box), "value").set;
    setter.call(box, num + "|" + Date.now());
    box.dispatchEvent(new Event("input", { bubbles: true }));
    setTimeout(function () { btn.click(); }, 30);
    showDrawer("reader-open");
    markToc(num);
    var panel = q("#section-panel");
    if (panel && window.matchMedia("(min-width: 721px)").matches) {
      var top = panel.getBoundingClientRect().top;
      if (top < 0 || top > window.innerHeight - 120) panel.scrollIntoView({ block: "start" });
    }
    var col = q("#reader-col");
    if (col) col.scrollTop = 0;
  }

  function markToc(num) {
    qa("#toc a.current").forEach(function (a) { a.classList.remove("current"); });
    var cur = q('#toc a[href="#sec-' + num + '"]');
    if (cur) {
      cur.classList.add("current");
      var box = q("#toc");
      if (box) {
        var r = cur.getBoundingClientRect(), b = box.getBoundingClientRect();
        if (r.top < b.top || r.bottom > b.bottom) box.scrollTop += r.top - b.top - b.height / 3;
      }
    }
  }

  document.addEventListener("click", function (ev) {
    var t = ev.target;
    if (!t || !t.closest) return;
    var a = t.closest('a[href^="#sec-"]');
    if (a) {
      ev.preventDefault();
      ev.stopPropagation();
      openSection(decodeURIComponent(a.getAttribute("href").slice(5)));
      return;
    }
    if (t.closest("#reader-back")) {
      closeDrawer();
      var chat = q("#question textarea");
      if (chat) chat.focus({ preventScroll: true });
      return;
    }
    if (t.closest("#toc-button") || t.closest("#reader-toc")) {
      showDrawer("toc-open");
      var f = q("#toc-filter textarea, #toc-filter input");
      if (f && window.matchMedia("(min-width: 721px)").matches) f.focus();
      return;
    }
    var share = t.closest("a.share-link");
    if (share) {
      ev.preventDefault();
      var url = share.href;
      var done = function () { share.textContent = "✓ 链接已复制 Link copied"; };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(url).then(done, function () { window.prompt("Link", url); });
      } else {
        window.prompt("Link", url);
      }
    }
  }, true);

  // ---- TOC filter: Chinese title, English title, abbreviations (kept in each link's title)
  document.addEventListener("input", function (ev) {
    var t = ev.target;
    if (!t || !t.closest || !t.closest("#toc-filter")) return;
    var needle = (t.value || "").trim().toLowerCase();
    qa("#toc li").forEach(function (li) {
      var a = q("a", li);
      var hay = (li.textContent + " " + (a ? a.title : "")).toLowerCase();
      li.style.display = !needle || hay.indexOf(needle) >= 0 ? "" : "none";
    });
  }, true);

  // ---- citations in answers: "[§2.1]" / "§2.1" become links, the sources line becomes chips
  function linkifyText(node) {
    var text = node.nodeValue;
    CITE.lastIndex = 0;
    if (!CITE.test(text)) return;
    CITE.lastIndex = 0;
    var frag = document.createDocumentFragment(), pos = 0, m;
    while ((m = CITE.exec(text)) !== null) {
      var num = m[1] || m[2];
      if (m.index > pos) frag.appendChild(document.createTextNode(text.slice(pos, m.index)));
      frag.appendChild(link("cite-inline", num, "§" + num));
      pos = m.index + m[0].length;
    }
    if (pos < text.length) frag.appendChild(document.createTextNode(text.slice(pos)));
    node.parentNode.replaceChild(frag, node);
  }

  function chipify(p) {
    var items = p.textContent.slice(SOURCES.length).split(" · ");
    while (p.firstChild) p.removeChild(p.firstChild);
    p.classList.add("sources");
    var label = document.createElement("span");
    label.className = "sources-label";
    label.textContent = SOURCES;
    p.appendChild(label);
    items.forEach(function (item) {
      var m = /^§([0-9A](?:\.\d+)*)\s*(.*)$/.exec(item.trim());
      if (m) p.appendChild(link("cite-chip", m[1], "§" + m[1] + " " + m[2]));
    });
  }

  function enhanceMessage(content, question) {
    qa("p", content).forEach(function (p) {
      if (!p.classList.contains("sources") && p.textContent.indexOf(SOURCES) === 0) chipify(p);
    });
    var walker = document.createTreeWalker(content, NodeFilter.SHOW_TEXT, {
      acceptNode: function (n) {
        var el = n.parentElement;
        if (!el || el.closest("a, code, pre, .katex, .sources, .share-link")) return NodeFilter.FILTER_REJECT;
        return n.nodeValue.indexOf("§") >= 0 ? NodeFilter.FILTER_ACCEPT : NodeFilter.FILTER_REJECT;
      }
    });
    var nodes = [];
    while (walker.nextNode()) nodes.push(walker.currentNode);
    nodes.forEach(linkifyText);
    if (question && q(".sources", content) && !q(".share-link", content)) {
      var a = document.createElement("a");
      a.className = "share-link";
      a.href = location.origin + location.pathname + "?q=" + encodeURIComponent(question);
      a.textContent = "分享这个问题 Share link ↗";
      a.title = "复制一个打开本问题的链接 Copy a link that opens the chat with this question";
      content.appendChild(a);
    }
  }

  var pending = false;
  function enhanceAll() {
    pending = false;
    var question = "";
    qa("#chat .message-row").forEach(function (row) {
      var user = q('[data-testid="user"] .message-content', row);
      if (user) { question = user.innerText.trim(); return; }
      var bot = q('[data-testid="bot"] .message-content', row);
      if (bot) enhanceMessage(bot, question);
    });
    var h = q("#section-panel h3");
    if (h) {
      var m = /§([0-9A](?:\.\d+)*)/.exec(h.textContent);
      if (m && !q('#toc a.current[href="#sec-' + m[1] + '"]')) markToc(m[1]);
    }
  }
  new MutationObserver(function () {
    if (!pending) { pending = true; requestAnimationFrame(enhanceAll); }
  }).observe(document.documentElement, { childList: true, subtree: true, characterData: true });

  document.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape" && drawerOpen()) closeDrawer();
  });
})();
