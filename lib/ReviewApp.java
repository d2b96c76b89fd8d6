import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The interactive review page that {@link ReviewServer} serves: one HTML document with its
 * script and style inline (allowed by a per-response nonce), the proposals and the decisions
 * already made embedded as JSON, so a reload shows exactly what is saved. Pictures come from
 * the same server (crop/&lt;face&gt;, photo/&lt;face&gt;), and each click is posted to api/decision.
 */
public final class ReviewApp {
    private ReviewApp() {}

    /** Known faces shown per person. */
    static final int PERSON_FACES = 6;

    /** What the page's script renders: people in review order, each with its proposals, and the decisions made. */
    public static ObjectNode model(ReviewDecisions d, JsonNode identities, ReviewFaces faces, boolean dryRun) {
        ObjectNode m = JsonFiles.object();
        m.put("run", d.proposals().run());
        m.put("generated_at", d.proposals().generatedAt());
        m.put("dry_run", dryRun);
        m.put("decisions_file", d.file().toString());
        Map<String, List<Matcher.Proposal>> byPerson = new LinkedHashMap<>();
        for (Matcher.Proposal p : d.proposals().reviewOrder()) byPerson.computeIfAbsent(p.targetIdentityId(), k -> new ArrayList<>()).add(p);
        ArrayNode people = m.putArray("people");
        JsonNode ids = identities.path("identities");
        for (var e : byPerson.entrySet()) {
            ObjectNode person = people.addObject();
            person.put("id", e.getKey());
            person.put("name", e.getValue().get(0).targetIdentityName());
            ArrayNode known = person.putArray("known");
            for (String f : knownFaces(ids.path(e.getKey()), faces)) {
                ObjectNode k = known.addObject();
                k.put("face_id", f);
                k.put("has_crop", faces.hasCrop(f));
            }
            ArrayNode list = person.putArray("proposals");
            for (Matcher.Proposal p : e.getValue()) {
                ObjectNode n = list.addObject();
                n.put("face_id", p.faceId());
                n.put("source_name", p.sourceIdentityName());
                n.put("source_state", p.sourceState());
                n.put("distance", Matcher.fixed(p.distance(), 4));
                n.put("confidence", p.confidence());
                n.put("margin", Double.isInfinite(p.margin()) ? null : Matcher.fixed(p.margin(), 3));
                n.put("ambiguous", p.ambiguous());
                n.put("has_crop", faces.hasCrop(p.faceId()));
                n.put("has_photo", faces.hasPhoto(p.faceId()));
                java.nio.file.Path photo = faces.photoFile(p.faceId());
                n.put("photo_name", photo == null ? "photo unknown" : photo.getFileName().toString());
            }
        }
        ObjectNode decided = m.putObject("decisions"), applied = m.putObject("applied");
        for (ReviewDecisions.Entry e : d.entries()) {
            decided.put(e.faceId(), e.decision().json());
            if (e.appliedAt() != null) applied.put(e.faceId(), true);
        }
        return m;
    }

    /** Up to PERSON_FACES of the person's faces, anchors first, preferring those whose crop is on disk. */
    static List<String> knownFaces(JsonNode person, ReviewFaces faces) {
        List<String> all = person.isObject() ? Identities.faceIds(person) : List.of(), withCrop = new ArrayList<>();
        for (String f : all) if (withCrop.size() < PERSON_FACES && faces.hasCrop(f)) withCrop.add(f);
        if (!withCrop.isEmpty()) return withCrop;
        return all.isEmpty() ? List.of() : List.of(all.get(0));
    }

    /** The page, its inline script and style allowed by {@code nonce} (the Content-Security-Policy of this response). */
    public static String html(ObjectNode model, String nonce) {
        // Inside <script type="application/json"> nothing may close the element: < > & are escaped as JSON allows.
        String json = JsonFiles.compact(model).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026");
        return """
                <!DOCTYPE html>
                <html lang="en">
                <head>
                <meta charset="utf-8">
                <meta name="viewport" content="width=device-width, initial-scale=1">
                <title>Review of step 4's proposals</title>
                <link rel="icon" href="data:,">
                <style nonce="%1$s">%2$s</style>
                </head>
                <body>
                <header id="bar">
                  <strong>Review</strong>
                  <span id="counts"><span class="c-accepted">Accepted <b id="count-accepted">0</b></span>
                  <span class="c-rejected">Rejected <b id="count-rejected">0</b></span>
                  <span class="c-skipped">Skipped <b id="count-skipped">0</b></span>
                  <span class="c-left">Left <b id="count-left">0</b></span></span>
                  <span id="save-status" data-pending="0" aria-live="polite"></span>
                  <button id="help-button" type="button" title="Keyboard: ?">?</button>
                  <button id="done" type="button">Done</button>
                </header>
                <main id="main">
                <h1>Who is this? Step 4's proposals</h1>
                <p class="intro">Each new face was matched by the face model to a person already identified. Decide for each:
                <b>Accept</b> adds the face to that person's candidates (never confirmed), <b>Reject</b> remembers that it is
                not that person (never proposed again), <b>Skip</b> leaves it for later. Every click is saved at once.
                Press <b>Done</b> when you have finished: the decisions are then applied to identities.json, after a backup.</p>
                <p class="meta" id="meta"></p>
                <div id="people"></div>
                </main>
                <div id="help" hidden>
                  <h2>Keyboard</h2>
                  <table>
                  <tr><td><kbd>a</kbd></td><td>accept the selected face, go to the next</td></tr>
                  <tr><td><kbd>r</kbd></td><td>reject it, go to the next</td></tr>
                  <tr><td><kbd>s</kbd></td><td>skip it, go to the next</td></tr>
                  <tr><td><kbd>j</kbd> / <kbd>k</kbd></td><td>next / previous face</td></tr>
                  <tr><td><kbd>?</kbd></td><td>show or hide this help</td></tr>
                  </table>
                  <p>Ambiguous proposals (another person is almost as close: family resemblance?) are marked in red;
                  "Accept all of this person" never takes them.</p>
                  <button id="help-close" type="button">Close</button>
                </div>
                <div id="kit-status" hidden data-state="pending" data-errors="0"></div>
                <script type="application/json" id="model">%3$s</script>
                <script nonce="%1$s">%4$s</script>
                </body>
                </html>
                """.formatted(nonce, STYLE, json, SCRIPT);
    }

    private static final String SCRIPT = """
            (function () {
              'use strict';
              var errors = [];
              var status = document.getElementById('kit-status');
              function noteError(msg) { errors.push(String(msg)); status.setAttribute('data-errors', errors.length); status.textContent = errors.join('\\n'); }
              window.addEventListener('error', function (e) {
                if (e.target && e.target.tagName === 'IMG') { noteError('image failed: ' + e.target.getAttribute('src')); return; }
                noteError(e.message || e);
              }, true);
              window.addEventListener('unhandledrejection', function (e) { noteError('unhandled: ' + (e.reason && e.reason.message || e.reason)); });

              var model = JSON.parse(document.getElementById('model').textContent);
              var decisions = model.decisions || {};
              var applied = model.applied || {};
              var cards = [];      // {face, el, person}
              var byFace = {};
              var current = 0;
              var pending = 0;
              var finished = false;

              function el(tag, cls, text) {
                var e = document.createElement(tag);
                if (cls) e.className = cls;
                if (text !== undefined && text !== null) e.textContent = text;
                return e;
              }
              function picture(kind, face, has, cls) {
                if (!has) {
                  var p = el('div', cls + ' placeholder', kind === 'crop' ? 'no crop' : 'no photo');
                  p.title = kind === 'crop' ? 'crop ' + face + '.jpg is not on this computer' : 'the photo of ' + face + ' is not on this computer';
                  return p;
                }
                var i = el('img', cls);
                i.src = kind + '/' + encodeURIComponent(face);
                i.alt = face;
                i.title = face;
                return i;
              }

              function render() {
                var meta = document.getElementById('meta');
                meta.textContent = 'Run ' + model.run + ' \\u00b7 proposals of ' + model.generated_at + ' \\u00b7 decisions saved in ' + model.decisions_file
                  + (model.dry_run ? ' \\u00b7 DRY RUN: nothing will be applied' : '');
                var root = document.getElementById('people');
                model.people.forEach(function (person) {
                  var sec = el('section', 'person');
                  sec.setAttribute('data-person', person.id);
                  var h = el('h2', null, person.name + ' ');
                  h.appendChild(el('span', 'count', person.proposals.length + (person.proposals.length === 1 ? ' new face' : ' new faces')));
                  var all = el('button', 'accept-all', 'Accept all of ' + person.name);
                  all.type = 'button';
                  all.title = 'Accepts every proposal of this person not yet rejected, except the ambiguous ones';
                  all.addEventListener('click', function () { acceptAll(person.id); });
                  h.appendChild(all);
                  sec.appendChild(h);
                  var known = el('div', 'known');
                  known.appendChild(el('span', 'label', 'Known faces'));
                  person.known.forEach(function (k) { known.appendChild(picture('crop', k.face_id, k.has_crop, 'known')); });
                  sec.appendChild(known);
                  person.proposals.forEach(function (p) {
                    var card = el('div', 'proposal' + (p.ambiguous ? ' ambiguous' : ''));
                    card.setAttribute('data-face', p.face_id);
                    card.tabIndex = -1;
                    var f1 = el('figure', 'face');
                    f1.appendChild(picture('crop', p.face_id, p.has_crop, 'new'));
                    var c1 = el('figcaption', null, 'new face');
                    c1.appendChild(el('br'));
                    c1.appendChild(el('code', null, p.face_id));
                    f1.appendChild(c1);
                    card.appendChild(f1);
                    var f2 = el('figure', 'photo');
                    f2.appendChild(picture('photo', p.face_id, p.has_photo, 'thumb'));
                    f2.appendChild(el('figcaption', null, p.photo_name));
                    card.appendChild(f2);
                    var facts = el('div', 'facts');
                    facts.appendChild(el('div', 'conf ' + p.confidence.toLowerCase().replace(/ /g, '-'), p.confidence));
                    var d = el('div', null, 'distance ');
                    d.appendChild(el('b', null, p.distance));
                    facts.appendChild(d);
                    facts.appendChild(el('div', null, 'from ' + p.source_name + ' (' + p.source_state + ')'));
                    if (p.ambiguous) {
                      facts.appendChild(el('div', 'warn', 'AMBIGUOUS: another person is almost as close (margin ' + p.margin + '): family resemblance? Check carefully.'));
                    } else if (p.margin !== null) {
                      facts.appendChild(el('div', 'margin', 'margin ' + p.margin + ' over the next person'));
                    }
                    var buttons = el('div', 'buttons');
                    [['accept', 'Accept'], ['reject', 'Reject'], ['skip', 'Skip']].forEach(function (b) {
                      var btn = el('button', 'decide ' + b[0], b[1]);
                      btn.type = 'button';
                      btn.setAttribute('data-decision', b[0]);
                      btn.addEventListener('click', function () { select(cards.indexOf(byFace[p.face_id])); decide(p.face_id, b[0]); });
                      buttons.appendChild(btn);
                    });
                    facts.appendChild(buttons);
                    facts.appendChild(el('div', 'state'));
                    card.appendChild(facts);
                    card.addEventListener('click', function (e) { if (e.target.tagName !== 'BUTTON') select(cards.indexOf(byFace[p.face_id])); });
                    sec.appendChild(card);
                    var entry = {face: p.face_id, el: card, person: person.id, ambiguous: p.ambiguous};
                    cards.push(entry);
                    byFace[p.face_id] = entry;
                  });
                  root.appendChild(sec);
                });
                if (model.people.length === 0) root.appendChild(el('p', 'empty', 'There are no proposals to review.'));
                cards.forEach(function (c) { show(c.face); });
                counts();
                var firstOpen = 0;
                while (firstOpen < cards.length && decisions[cards[firstOpen].face]) firstOpen++;
                select(firstOpen < cards.length ? firstOpen : 0, true);
              }

              function show(face) {
                var c = byFace[face];
                if (!c) return;
                var d = decisions[face] || '';
                c.el.setAttribute('data-decision', d);
                c.el.classList.remove('is-accept', 'is-reject', 'is-skip');
                if (d) c.el.classList.add('is-' + d);
                var label = {accept: 'Accepted', reject: 'Rejected', skip: 'Skipped'}[d] || 'Not decided';
                if (applied[face]) label += ' (applied)';
                c.el.querySelector('.state').textContent = label;
                c.el.querySelectorAll('button.decide').forEach(function (b) {
                  b.setAttribute('aria-pressed', b.getAttribute('data-decision') === d ? 'true' : 'false');
                  b.disabled = finished || !!applied[face];
                });
              }

              function counts() {
                var a = 0, r = 0, s = 0;
                cards.forEach(function (c) {
                  var d = decisions[c.face];
                  if (d === 'accept') a++; else if (d === 'reject') r++; else if (d === 'skip') s++;
                });
                document.getElementById('count-accepted').textContent = a;
                document.getElementById('count-rejected').textContent = r;
                document.getElementById('count-skipped').textContent = s;
                document.getElementById('count-left').textContent = cards.length - a - r - s;
              }

              function select(i, noScroll) {
                if (cards.length === 0) return;
                current = Math.max(0, Math.min(cards.length - 1, i));
                cards.forEach(function (c, k) { c.el.classList.toggle('selected', k === current); });
                if (!noScroll) cards[current].el.scrollIntoView({block: 'nearest'});
              }

              function saving(delta, message, bad) {
                pending += delta;
                var s = document.getElementById('save-status');
                s.setAttribute('data-pending', pending);
                if (message !== undefined) {
                  s.textContent = message;
                  s.classList.toggle('bad', !!bad);
                } else if (pending > 0) {
                  s.textContent = 'Saving\\u2026';
                }
              }

              function post(path, body) {
                return fetch(path, {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body),
                                    credentials: 'same-origin', cache: 'no-store'})
                  .then(function (r) {
                    return r.text().then(function (t) {
                      var j = null;
                      try { j = JSON.parse(t); } catch (e) { j = null; }
                      if (!r.ok) throw new Error((j && j.error) || ('the review server answered ' + r.status));
                      return j;
                    });
                  });
              }

              function decide(face, d) {
                if (finished || applied[face] || !byFace[face]) return;
                saving(1);
                post('api/decision', {face_id: face, decision: d}).then(function (res) {
                  decisions[face] = res.decision;
                  if (!res.decision) delete decisions[face];
                  show(face);
                  counts();
                  saving(-1, 'Saved');
                }, function (err) {
                  saving(-1, 'NOT saved: ' + err.message + '. Is the review still running?', true);
                });
              }

              function acceptAll(personId) {
                if (finished) return;
                saving(1);
                post('api/accept-all', {target_identity_id: personId}).then(function (res) {
                  Object.keys(res.decisions).forEach(function (f) { decisions[f] = res.decisions[f]; show(f); });
                  counts();
                  saving(-1, 'Saved (' + Object.keys(res.decisions).length + ' accepted)');
                }, function (err) {
                  saving(-1, 'NOT saved: ' + err.message, true);
                });
              }

              function done() {
                if (finished) return;
                var btn = document.getElementById('done');
                btn.disabled = true;
                saving(1, 'Applying\\u2026');
                post('api/done', {}).then(function (res) {
                  finished = true;
                  saving(-1, 'Finished');
                  cards.forEach(function (c) { show(c.face); });
                  var main = document.getElementById('main');
                  var box = el('section', 'summary');
                  box.id = 'summary';
                  box.appendChild(el('h2', null, res.dry_run ? 'Dry run: nothing was applied' : 'Done'));
                  (res.lines || []).forEach(function (l) { box.appendChild(el('p', null, l)); });
                  box.appendChild(el('p', null, 'The review has ended: you can close this tab.'));
                  main.insertBefore(box, main.firstChild);
                  window.scrollTo(0, 0);
                }, function (err) {
                  btn.disabled = false;
                  saving(-1, 'Not applied: ' + err.message, true);
                });
              }

              function toggleHelp(show) {
                var h = document.getElementById('help');
                h.hidden = show === undefined ? !h.hidden : !show;
              }

              document.getElementById('done').addEventListener('click', done);
              document.getElementById('help-button').addEventListener('click', function () { toggleHelp(); });
              document.getElementById('help-close').addEventListener('click', function () { toggleHelp(false); });
              document.addEventListener('keydown', function (e) {
                if (e.ctrlKey || e.metaKey || e.altKey) return;
                var c = cards[current];
                switch (e.key) {
                  case 'a': if (c) { decide(c.face, 'accept'); select(current + 1); } break;
                  case 'r': if (c) { decide(c.face, 'reject'); select(current + 1); } break;
                  case 's': if (c) { decide(c.face, 'skip'); select(current + 1); } break;
                  case 'j': select(current + 1); break;
                  case 'k': select(current - 1); break;
                  case '?': toggleHelp(); break;
                  case 'Escape': toggleHelp(false); break;
                  default: return;
                }
                e.preventDefault();
              });

              try {
                render();
              } catch (e) {
                noteError(e && e.message || e);
              }
              window.addEventListener('load', function () {
                var imgs = document.images, loaded = 0, failed = 0;
                for (var i = 0; i < imgs.length; i++) { if (imgs[i].complete && imgs[i].naturalWidth > 0) loaded++; else failed++; }
                status.setAttribute('data-images', imgs.length);
                status.setAttribute('data-loaded', loaded);
                status.setAttribute('data-failed', failed);
                status.setAttribute('data-state', 'done');
              });
            })();
            """;

    private static final String STYLE = """
            body { font-family: system-ui, sans-serif; margin: 0; color: #222; background: #fafafa; }
            #bar { position: sticky; top: 0; z-index: 2; display: flex; gap: 1em; align-items: center; background: #283646; color: #fff;
                   padding: .6em 1.5em; box-shadow: 0 1px 4px rgba(0,0,0,.3); }
            #bar b { font-size: 1.15em; }
            #counts { display: flex; gap: 1em; }
            .c-accepted b { color: #8fe3a8; } .c-rejected b { color: #ff9d9d; } .c-skipped b { color: #d8d8d8; } .c-left b { color: #ffd97a; }
            #save-status { flex: 1; color: #cfe; font-size: .9em; }
            #save-status.bad { color: #fff; background: #b00; padding: .2em .5em; border-radius: 4px; }
            #bar button { font-size: 1em; padding: .3em .9em; border-radius: 5px; border: 0; cursor: pointer; }
            #done { background: #3c9a5f; color: #fff; font-weight: bold; }
            #done:disabled { background: #777; }
            main { margin: 1em 1.5em; }
            h1 { margin: .3em 0; }
            .intro { max-width: 60em; }
            .meta { color: #666; font-size: .9em; }
            .summary { background: #e6f4ea; border: 2px solid #3c9a5f; border-radius: 6px; padding: .4em 1em; }
            .person { background: #fff; border: 1px solid #ddd; border-radius: 8px; margin: 1.2em 0; padding: .8em 1em; }
            .person h2 { margin: .2em 0 .5em; display: flex; gap: .6em; align-items: baseline; }
            .count { color: #777; font-size: .7em; font-weight: normal; }
            .accept-all { margin-left: auto; font-size: .6em; padding: .3em .8em; border: 1px solid #3c9a5f; background: #eef8f1; border-radius: 5px; cursor: pointer; }
            .known { display: flex; gap: 6px; align-items: center; margin-bottom: .6em; }
            .known .label, figcaption { color: #666; font-size: .8em; }
            .known .label { margin-right: .5em; }
            .proposal { display: flex; gap: 1em; align-items: flex-start; border-top: 1px solid #eee; padding: .6em .4em; border-left: 6px solid transparent; }
            .proposal.ambiguous { background: #fff0f0; }
            .proposal.selected { border-left-color: #3c7be0; box-shadow: inset 0 0 0 2px #3c7be0; }
            .proposal.is-accept { background: #e6f4ea; } .proposal.is-reject { background: #fbe3e3; } .proposal.is-skip { background: #f1f1f1; }
            figure { margin: 0; text-align: center; }
            figure.face { width: 130px; flex: none; }
            figure.face code { word-break: break-all; }
            figure.photo { width: 360px; flex: none; }
            img.new, img.known, div.new, div.known { width: 112px; height: 112px; object-fit: cover; border-radius: 4px; }
            img.new, div.new { outline: 3px solid #3c7be0; }
            img.thumb, div.thumb { max-width: 360px; max-height: 300px; border-radius: 4px; display: block; margin: 0 auto; }
            div.thumb { width: 200px; height: 150px; }
            .placeholder { display: flex; align-items: center; justify-content: center; background: #e4e4e4; border: 1px dashed #aaa;
                           color: #666; font-size: .8em; box-sizing: border-box; }
            .facts div { margin: .2em 0; }
            .conf { font-weight: bold; display: inline-block; padding: .1em .5em; border-radius: 4px; color: #fff; background: #777; }
            .conf.very-high { background: #1e7d3a; } .conf.high { background: #3c9a5f; }
            .conf.moderate { background: #c98a00; } .conf.low { background: #b33; }
            .warn { color: #b00; font-weight: bold; max-width: 28em; }
            .margin { color: #666; font-size: .9em; }
            .buttons { display: flex; gap: .4em; margin-top: .6em !important; }
            .buttons button { font-size: 1em; padding: .35em 1em; border-radius: 5px; border: 1px solid #999; background: #fff; cursor: pointer; }
            .buttons button.accept[aria-pressed=true] { background: #1e7d3a; color: #fff; border-color: #1e7d3a; }
            .buttons button.reject[aria-pressed=true] { background: #b33; color: #fff; border-color: #b33; }
            .buttons button.skip[aria-pressed=true] { background: #666; color: #fff; border-color: #666; }
            .state { font-weight: bold; color: #444; }
            #help { position: fixed; top: 15%; left: 50%; transform: translateX(-50%); z-index: 3; background: #fff; border: 2px solid #283646;
                    border-radius: 8px; padding: 1em 1.5em; box-shadow: 0 4px 20px rgba(0,0,0,.35); max-width: 32em; }
            #help[hidden] { display: none; }
            kbd { border: 1px solid #999; border-radius: 3px; padding: 0 .35em; background: #f4f4f4; }
            .empty { font-size: 1.1em; }
            """;
}
