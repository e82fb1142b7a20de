"""Look and feel: theme, CSS and the one small script (citation clicks)."""

from __future__ import annotations

import gradio as gr

# System fonts only: the default theme fetches Google Fonts, which an offline machine can't.
_FONT = ["Inter", "ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "Roboto", "sans-serif"]
_MONO = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"]


def theme() -> gr.themes.Base:
    return gr.themes.Soft(
        primary_hue="indigo", secondary_hue="slate", neutral_hue="slate", font=_FONT, font_mono=_MONO
    ).set(block_radius="12px", button_large_radius="10px", body_text_size="15px")


CSS = """
.gradio-container { max-width: 1480px !important; margin: 0 auto !important; }
/* As wide as the window allows (Gradio caps .main), whatever the open tab holds: without a
   width of their own they shrank to fit their content, so the page changed width between tabs */
.gradio-container, .gradio-container > .main { width: 100% !important; }
.muted { color: var(--body-text-color-subdued); }
.small { font-size: 12px; }
.mono { font-family: var(--font-mono); }

/* header */
#aq-header { display: flex; align-items: baseline; gap: 14px; flex-wrap: wrap; padding: 4px 2px 0; }
#aq-header .logo { font-size: 22px; font-weight: 700; letter-spacing: -0.02em; }
#aq-header .logo span { color: var(--color-accent); }
#aq-header .tag { color: var(--body-text-color-subdued); }
#aq-header .chips { margin-left: auto; display: flex; gap: 6px; flex-wrap: wrap; }
.chip { font-size: 12px; padding: 3px 10px; border-radius: 999px; border: 1px solid var(--border-color-primary);
        background: var(--block-background-fill); color: var(--body-text-color-subdued); white-space: nowrap; }
.chip b { color: var(--body-text-color); font-weight: 600; }

/* conversation */
/* Gradio puts overflow: visible inline on blocks, hence !important on the scrollers */
#aq-convo { height: max(360px, calc(100vh - 300px)); overflow-y: auto !important; border: 1px solid var(--border-color-primary);
            border-radius: 12px; background: var(--background-fill-secondary); padding: 14px 16px; }
#aq-convo:has(.aq-welcome) { height: max(300px, calc(100vh - 420px)); }
.aq-convo .turn { margin-bottom: 18px; }
.aq-convo .msg { display: flex; flex-direction: column; margin: 6px 0; }
.aq-convo .msg.user { align-items: flex-end; }
.aq-convo .bubble { max-width: 88%; padding: 10px 14px; border-radius: 14px; line-height: 1.6;
                    white-space: pre-wrap; overflow-wrap: anywhere; }
.aq-convo .user .bubble { background: var(--color-accent); color: white; border-bottom-right-radius: 4px; }
.aq-convo .bubble.answer { background: var(--block-background-fill); border: 1px solid var(--border-color-primary);
                           border-bottom-left-radius: 4px; box-shadow: 0 1px 2px rgba(15, 23, 42, .05); }
.aq-convo .bubble.abstain { background: var(--block-background-fill); border: 1px dashed #94a3b8;
                            border-left: 4px solid #64748b;
                            border-bottom-left-radius: 4px; }
.abstain-label { font-size: 11px; font-weight: 700; text-transform: uppercase; letter-spacing: .06em;
                 color: #475569; margin-bottom: 3px; }
.dark .abstain-label { color: #cbd5e1; }
.aq-convo .bubble.error { background: #fef2f2; border: 1px solid #fca5a5; color: #991b1b; }
.dark .aq-convo .bubble.error { background: #450a0a; border-color: #991b1b; color: #fecaca; }
.aq-convo .bubble.pending { color: var(--body-text-color-subdued); background: transparent; padding-left: 4px; }
.aq-convo .standalone { font-size: 12.5px; color: var(--body-text-color-subdued); margin: 0 0 4px 2px; }
.aq-convo .standalone::before { content: "↻ "; }
.aq-convo details.draft { font-size: 12.5px; color: var(--body-text-color-subdued); margin: 4px 0 0 4px;
                          max-width: 88%; }
.aq-convo details.draft > summary { cursor: pointer; }
.aq-convo details.draft > div { white-space: pre-wrap; font-style: italic; padding: 4px 0 0 12px; }
.aq-convo details.checks { font-size: 12.5px; color: var(--body-text-color-subdued); margin: 4px 0 0 4px; }
.aq-convo details.checks > summary { cursor: pointer; }
.aq-convo details.checks ul { margin: 4px 0 0 0; padding-left: 18px; }
.aq-convo details.checks .check-action { font-weight: 600; }
.aq-convo .clipped { font-size: 11.5px; color: var(--body-text-color-subdued); margin: 3px 4px 0 0; max-width: 88%;
                     text-align: right; }
/* timeline answers: a vertical line, one dated entry per development (ol.tl, render.timeline_html) */
.aq-convo .bubble.timeline { white-space: normal; padding: 12px 16px 4px; }
.aq-convo ol.tl { list-style: none !important; position: relative; margin: 0 !important; padding: 0 0 0 22px !important; }
.aq-convo ol.tl::before { content: ""; position: absolute; left: 6px; top: 8px; bottom: 14px; width: 2px;
                          border-radius: 1px; background: var(--border-color-primary); }
.aq-convo .tl-entry { position: relative; margin: 0 0 12px !important; padding: 0 !important; list-style: none !important; }
.aq-convo .tl-entry::before { content: ""; position: absolute; left: -21px; top: 5px; width: 10px; height: 10px;
                              border-radius: 50%; background: var(--color-accent);
                              box-shadow: 0 0 0 3px var(--block-background-fill); }
/* an undated report has no place on the line: a hollow dot, after the dated ones */
.aq-convo .tl-entry.undated::before { background: var(--block-background-fill);
                                      border: 2px solid var(--body-text-color-subdued); box-sizing: border-box; }
.aq-convo .tl-when { font-size: 12px; line-height: 1.4; color: var(--body-text-color-subdued); }
.aq-convo .tl-date { font-weight: 700; color: var(--body-text-color); font-variant-numeric: tabular-nums; }
.aq-convo .tl-text { line-height: 1.6; white-space: pre-wrap; overflow-wrap: anywhere; margin-top: 1px; }
.aq-convo .meta { font-size: 11.5px; color: var(--body-text-color-subdued); margin: 4px 0 0 4px; }
.aq-welcome { max-width: 560px; margin: 70px auto; text-align: center; color: var(--body-text-color-subdued); }
.aq-welcome h3 { color: var(--body-text-color); font-size: 20px; margin-bottom: 6px; }
.caret::after { content: "▍"; animation: aq-blink 1s steps(2) infinite; color: var(--color-accent); }
.dots::after { content: "●●●"; letter-spacing: 2px; animation: aq-pulse 1.2s ease-in-out infinite; }
@keyframes aq-blink { 50% { opacity: 0; } }
@keyframes aq-pulse { 50% { opacity: .3; } }

/* citation chips: [n] in answers */
a.cite, span.cite { display: inline-block; min-width: 1.45em; padding: 0 5px; margin: 0 1px; border-radius: 6px;
          font-size: .78em; font-weight: 700; line-height: 1.5; text-align: center; vertical-align: .15em;
          background: var(--color-accent-soft); color: var(--color-accent) !important;
          text-decoration: none !important; border: 1px solid transparent; cursor: pointer; }
a.cite:hover { border-color: var(--color-accent); }

/* sources panel */
#aq-sources { height: max(440px, calc(100vh - 200px)); overflow-y: auto !important; padding-right: 4px; }
.panel-title { position: sticky; top: 0; z-index: 1; background: var(--body-background-fill); padding: 2px 2px 6px;
               font-size: 12px; font-weight: 700; text-transform: uppercase; letter-spacing: .08em;
               color: var(--body-text-color-subdued); }
.aq-sources .empty, .empty { color: var(--body-text-color-subdued); padding: 22px 6px; text-align: center; }
.turn-src { margin-bottom: 12px; }
.turn-src > summary { cursor: pointer; font-size: 12.5px; color: var(--body-text-color-subdued);
                      padding: 4px 2px; list-style-position: inside; }
.turn-src .turn-q { font-style: italic; }
.src { border: 1px solid var(--border-color-primary); border-radius: 12px; padding: 12px 14px; margin: 8px 0;
       background: var(--block-background-fill); scroll-margin: 12px;
       transition: box-shadow .3s ease, border-color .3s ease; }
.src.flash { border-color: var(--color-accent); box-shadow: 0 0 0 3px var(--color-accent-soft); }
.src-head { display: flex; gap: 8px; align-items: baseline; }
.src-title { font-weight: 650; line-height: 1.35; }
.badge { flex: none; display: inline-block; min-width: 22px; text-align: center; border-radius: 6px;
         padding: 0 6px; font-size: 12px; font-weight: 700; background: var(--color-accent); color: white; }
.src-meta { font-size: 12px; color: var(--body-text-color-subdued); margin: 2px 0 6px; }
.src-meta a { color: var(--color-accent); }
blockquote.ctx { margin: 6px 0 4px; padding: 8px 12px; border-left: 3px solid var(--border-color-primary);
                 line-height: 1.65; font-size: 14px; color: var(--body-text-color); white-space: pre-wrap;
                 overflow-wrap: anywhere; }
mark { background: #fde68a; color: #1f2937; padding: 1px 2px; border-radius: 3px;
       box-decoration-break: clone; -webkit-box-decoration-break: clone; }
mark strong.short-answer { background: #fbbf24; border-radius: 2px; }
.bubble strong.short-answer { font-weight: 700; }
.dark mark { background: #a16207; color: #fefce8; }
details.full > summary, details.hits > summary { cursor: pointer; font-size: 12.5px; color: var(--color-accent);
                                                margin-top: 4px; }
.fulltext { max-height: 340px; overflow-y: auto; white-space: pre-wrap; overflow-wrap: anywhere; line-height: 1.65;
            font-size: 14px; padding: 10px 12px; margin-top: 6px; border-radius: 8px;
            background: var(--background-fill-secondary); }
details.hits ul { list-style: none; padding: 0; margin: 6px 0; }
details.hits li { border-top: 1px solid var(--border-color-primary); padding: 6px 2px; }
details.hit > summary { cursor: pointer; list-style: none; }
details.hit > summary::-webkit-details-marker { display: none; }
.hit-text { font-size: 13.5px; line-height: 1.55; white-space: pre-wrap; overflow-wrap: anywhere;
            display: -webkit-box; -webkit-box-orient: vertical; -webkit-line-clamp: 3; overflow: hidden; }
details.hit[open] .hit-text { -webkit-line-clamp: unset; display: block; }
.abstain-note { font-size: 13px; color: var(--body-text-color-subdued); padding: 8px 10px; margin: 6px 0;
                border: 1px dashed #94a3b8; border-radius: 10px; }

/* input row and examples */
#aq-input-row { align-items: stretch; gap: 8px; }
#aq-input-row button { white-space: nowrap; }
#aq-input textarea { font-size: 15px !important; border: 1px solid var(--border-color-primary) !important;
                     border-radius: 12px !important;
                     background: var(--block-background-fill) !important; }
/* Gradio grows the box for a long question but doesn't shrink it once it's cleared */
#aq-input textarea:placeholder-shown { height: 42px !important; }
#aq-input textarea:focus { border-color: var(--color-accent) !important;
                           box-shadow: 0 0 0 3px var(--color-accent-soft) !important; }
#aq-examples { gap: 6px !important; flex-wrap: wrap !important; align-items: center; }
#aq-examples .try { font-size: 12px; color: var(--body-text-color-subdued); margin-right: 2px; }
#aq-examples > div:first-child { flex: none !important; min-width: 0 !important; width: auto !important; }
#aq-examples button { font-weight: 450 !important; font-size: 12.5px !important; border-radius: 999px !important;
                      padding: 4px 12px !important; flex: none !important; width: auto !important;
                      border: 1px solid var(--border-color-primary) !important;
                      background: var(--block-background-fill) !important; box-shadow: none !important; }
#aq-examples button:hover { border-color: var(--color-accent) !important; color: var(--color-accent) !important; }

/* library and evaluation tables (Gradio's prose styles draw a grid: replaced by row rules) */
.aq-table { width: 100%; border-collapse: collapse; font-size: 14px; border: none !important; }
.aq-table th, .aq-table td { border: none !important; }
.aq-table tr { border: none !important; border-bottom: 1px solid var(--border-color-primary) !important; }
.aq-table th { text-align: left; background: transparent !important; font-weight: 600; font-size: 12px;
               color: var(--body-text-color-subdued); padding: 6px 8px; }
.aq-table td { padding: 8px; vertical-align: top; overflow-wrap: break-word; }
.aq-table td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
.lib-title { font-weight: 600; }
.aq-article h3 { margin: 4px 0; }
.aq-article .fulltext { max-height: 480px; }
.notice { border-radius: 10px; padding: 10px 14px; font-size: 14px; border: 1px solid; }
.notice ul { margin: 6px 0 0 18px; }
/* the plots at the size they were drawn, across the page (the by-type plot of 6 types is
   ~1,500 px wide: shrunk only to the page's width, never to a column's) */
.aq-plots figure { margin: 0 0 16px; }
.aq-plots img { display: block; max-width: 100%; height: auto; background: white; border-radius: 8px;
                border: 1px solid var(--border-color-primary); }
#aq-metrics .aq-table { max-width: 760px; }
/* the dataset's name stops short of the dropdown's arrow (it ran under it) */
#aq-eval-dataset input { padding-right: 28px !important; text-overflow: ellipsis; }
.aq-plots figcaption { font-size: 12px; color: var(--body-text-color-subdued); margin: 4px 2px 0; }
.notice.ok { background: #f0fdf4; border-color: #86efac; color: #14532d; }
.notice.warn { background: #fffbeb; border-color: #fcd34d; color: #78350f; }
.notice.error { background: #fef2f2; border-color: #fca5a5; color: #7f1d1d; }
.notice.info { background: var(--background-fill-secondary); border-color: var(--border-color-primary); }
.dark .notice.ok, .dark .notice.warn, .dark .notice.error { background: transparent; color: inherit; }
"""

# A citation click opens the source's turn, scrolls its card into view and flashes it;
# opening a full text scrolls to the highlighted passage. Delegated on document because
# the HTML is re-rendered on every update.
HEAD = """
<script>
(() => {
  document.addEventListener("click", (e) => {
    const a = e.target.closest && e.target.closest("a.cite");
    if (!a) return;
    const el = document.getElementById(a.dataset.target);
    if (!el) return;
    e.preventDefault();
    for (let p = el.parentElement; p; p = p.parentElement) if (p.tagName === "DETAILS") p.open = true;
    el.scrollIntoView({behavior: "smooth", block: "nearest"});
    el.classList.remove("flash"); void el.offsetWidth; el.classList.add("flash");
    setTimeout(() => el.classList.remove("flash"), 1800);
  });
  // Keep the conversation pinned to its newest message unless the reader scrolled up;
  // a new question always scrolls down, and the sources panel back to its (newest) top.
  const watch = () => {
    const convo = document.getElementById("aq-convo"), srcs = document.getElementById("aq-sources");
    if (!convo || !srcs || convo.dataset.aqWatched) return;
    convo.dataset.aqWatched = "1";
    let pinned = true, turns = 0, first = "";
    convo.addEventListener("scroll", () => {
      pinned = convo.scrollHeight - convo.scrollTop - convo.clientHeight < 80;
    });
    new MutationObserver(() => {
      const n = convo.querySelectorAll(".turn").length;
      if (pinned || n > turns) convo.scrollTop = convo.scrollHeight;
      turns = n;
    }).observe(convo, {childList: true, subtree: true, characterData: true});
    new MutationObserver(() => {
      const q = srcs.querySelector(".turn-q");
      const text = q ? q.textContent + srcs.querySelectorAll(".turn-src").length : "";
      if (text !== first) srcs.scrollTop = 0;
      first = text;
    }).observe(srcs, {childList: true, subtree: true});
  };
  setInterval(watch, 500);
  document.addEventListener("toggle", (e) => {
    const d = e.target;
    if (!d.open || !d.classList || !d.classList.contains("full")) return;
    const box = d.querySelector(".fulltext"), m = box && box.querySelector("mark");
    if (m) box.scrollTop = m.offsetTop - box.offsetTop - 40;
  }, true);
})();
</script>
"""
