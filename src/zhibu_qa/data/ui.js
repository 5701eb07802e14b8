() => {
  // zhibu-qa page script, run once on load: in-page links and Gradio's own strings in Chinese.
  if (window.__zqReady) return;
  window.__zqReady = true;

  // Links of the form "?article=…" / "?q=…" inside the app open the view in place (no reload): the
  // query (plus a counter, so the same link twice is still a change) goes to the hidden #zq-nav
  // box, whose change event the server answers. Modified clicks
  // (new tab, new window) keep the browser's default, so a link can still be opened or copied.
  const route = (query) => {
    const box = document.querySelector('#zq-nav textarea, #zq-nav input');
    if (!box) return false;
    window.__zqClicks = (window.__zqClicks || 0) + 1;
    box.value = query + '&_n=' + window.__zqClicks;
    box.dispatchEvent(new Event('input', {bubbles: true}));
    return true;
  };
  document.addEventListener('click', (ev) => {
    const a = ev.target && ev.target.closest ? ev.target.closest('a[href^="?"]') : null;
    if (!a || ev.button !== 0 || ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.altKey) return;
    if (!a.closest('.gradio-container')) return;
    const query = a.getAttribute('href').slice(1);
    if (!route(query)) return;
    ev.preventDefault();
    ev.stopPropagation();
    if (location.search !== '?' + query) history.pushState(null, '', '?' + query);
  }, true);
  window.addEventListener('popstate', () => route(location.search.slice(1)));

  // Gradio picks its interface language from the browser; this app is Chinese whatever the browser
  // says, so switch Gradio's locale (the same switch as its settings panel) to zh-CN.
  if (!/^zh/i.test(navigator.language || '')) {
    const core = performance.getEntriesByType('resource').map((e) => e.name)
      .find((u) => /\/assets\/core-[\w-]+\.js$/.test(new URL(u).pathname));
    if (core) import(core).then((m) => m.changeLocale && m.changeLocale('zh-CN')).catch(() => {});
  }
}
