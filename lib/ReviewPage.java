//DEPS com.fasterxml.jackson.core:jackson-databind:2.18.2
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The visual review of step 4: one self-contained HTML file, {@code data/review/<run>.html},
 * that opens from disk with no server and no network. Every image is inside the page as a
 * data: URI (crops shrunk, photos as small thumbnails with the face framed), so the file can
 * be mailed to whoever reviews. Proposals are grouped by the person they would join; each
 * shows the new face beside a few faces of that person and the photo it came from, with its
 * distance, confidence and an ambiguity warning. A missing crop or photo shows a placeholder.
 *
 * <p>A small script in the page records, once the page has loaded, how many images loaded or
 * failed and any script errors, in {@code #kit-status}: the kit's test reads it through a
 * headless browser.
 */
public final class ReviewPage {
    private ReviewPage() {}

    /** Everything the page shows. {@code identities} is the document as it was before any --execute. */
    public record Input(String run, String generatedAt, boolean executed, int applied, String model, double threshold,
                        MatchThresholds thresholds, List<Matcher.Proposal> proposals, List<Matcher.Promotion> promotions,
                        ObjectNode identities, ObjectNode photoIndex, Map<String, String> faceToPhoto, EmbeddingStore store,
                        Path photosDir, Path cropsDir, Path thumbnailsFile) {}

    static final int CROP_SIDE = 112;
    static final int THUMB_SIDE = 360;
    static final int PERSON_FACES = 4;

    /** Writes a page made by {@link #html} atomically to {@code file} (data/review/<run>.html) and returns it. */
    public static Path write(Path file, String html) {
        try {
            AtomicFiles.write(file, html.getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new KitException("cannot write the review page " + file + ": " + e.getMessage(),
                    "check the free disk space and permissions of " + file.getParent(), e);
        }
        return file;
    }

    public static String html(Input in) {
        Images images = new Images(in);
        StringBuilder h = new StringBuilder(64 * 1024);
        h.append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        // Nothing may come from outside the file: no network, no surprise.
        h.append("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; "
                + "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n");
        h.append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        h.append("<title>Face matches to review — ").append(esc(in.run())).append("</title>\n");
        h.append(STATUS_SCRIPT).append(STYLE).append("</head>\n<body>\n");

        h.append("<h1>Face matches to review</h1>\n");
        if (in.executed()) {
            h.append("<p class=\"banner applied\">Applied with --execute: ").append(in.applied()).append(" of ")
                    .append(in.proposals().size()).append(" proposals were written to identities.json (a backup was made first). ")
                    .append("Each face was added to the person's candidates, never confirmed.</p>\n");
        } else {
            h.append("<p class=\"banner\" id=\"nothing-applied\"><strong>Nothing has been applied.</strong> ")
                    .append("These are proposals only; identities.json is unchanged. Confirm or reject them on the site ")
                    .append("(<code>./jbang review</code> will be the way to decide them one by one), ")
                    .append("or apply them all with <code>./jbang cluster --execute</code>.</p>\n");
        }
        h.append("<p class=\"meta\">Run ").append(esc(in.run())).append(" · ").append(esc(in.generatedAt()))
                .append(" · model ").append(esc(String.valueOf(in.model()))).append(" · threshold ")
                .append(fmt(in.threshold(), 2)).append(" · ").append(in.proposals().size()).append(" proposals")
                .append(" · labels: VERY HIGH &lt; ").append(fmt(in.thresholds().veryHigh, 2)).append(" ≤ HIGH &lt; ")
                .append(fmt(in.thresholds().high, 2)).append(" ≤ MODERATE &lt; ").append(fmt(in.thresholds().moderate, 2))
                .append(" ≤ LOW</p>\n");

        if (!in.promotions().isEmpty()) {
            h.append("<section class=\"promotions\"><h2>Skipped identities with a strong match</h2><ul>\n");
            for (Matcher.Promotion p : in.promotions()) {
                h.append("<li>").append(esc(p.identityName())).append(": ").append(esc(p.context())).append("</li>\n");
            }
            h.append("</ul></section>\n");
        }
        if (in.proposals().isEmpty()) {
            h.append("<p class=\"empty\">No new face is close enough to a confirmed person (threshold ")
                    .append(fmt(in.threshold(), 2)).append(").</p>\n");
        }

        // Grouped by person, the person of the closest proposal first.
        Map<String, List<Matcher.Proposal>> byPerson = new LinkedHashMap<>();
        for (Matcher.Proposal p : in.proposals()) byPerson.computeIfAbsent(p.targetIdentityId(), k -> new ArrayList<>()).add(p);
        JsonNode ids = in.identities().path("identities");
        // The images first, on every core: thousands of crops (taken from the copies kept by an earlier
        // page when unchanged) and photos are each decoded, shrunk and encoded, independently of one
        // another. The page is then written out in order.
        Map<String, List<String>> known = new HashMap<>();
        Set<String> crops = new LinkedHashSet<>();
        Set<Path> photos = new LinkedHashSet<>();
        for (var e : byPerson.entrySet()) {
            List<String> faces = personFaces(ids.path(e.getKey()), in.cropsDir());
            known.put(e.getKey(), faces);
            crops.addAll(faces);
            for (Matcher.Proposal p : e.getValue()) {
                crops.add(p.faceId());
                Path photo = images.photoFile(p.faceId());
                if (photo != null) photos.add(photo);
            }
        }
        images.prepare(crops, photos);
        for (var e : byPerson.entrySet()) {
            List<Matcher.Proposal> list = e.getValue();
            h.append("<section class=\"person\">\n<h2>").append(esc(list.get(0).targetIdentityName()))
                    .append(" <span class=\"count\">").append(list.size()).append(list.size() == 1 ? " new face" : " new faces")
                    .append("</span></h2>\n<div class=\"known\"><span class=\"label\">Known faces</span>");
            for (String fid : known.get(e.getKey())) h.append(images.crop(fid, "known"));
            h.append("</div>\n");
            for (Matcher.Proposal p : list) {
                h.append("<div class=\"proposal").append(p.ambiguous() ? " ambiguous" : "").append("\">\n");
                h.append("<figure class=\"face\">").append(images.crop(p.faceId(), "new")).append("<figcaption>new face<br><code>")
                        .append(esc(p.faceId())).append("</code></figcaption></figure>\n");
                h.append("<figure class=\"photo\">").append(images.photo(p.faceId())).append("<figcaption>")
                        .append(esc(images.photoName(p.faceId()))).append("</figcaption></figure>\n");
                h.append("<div class=\"facts\"><div class=\"conf ").append(p.confidence().replace(' ', '-').toLowerCase(Locale.ROOT))
                        .append("\">").append(esc(p.confidence())).append("</div>");
                h.append("<div>distance <b>").append(fmt(p.distance(), 4)).append("</b></div>");
                h.append("<div>from ").append(esc(p.sourceIdentityName())).append(" (").append(esc(p.sourceState())).append(")</div>");
                if (p.ambiguous()) {
                    String other = ids.path(p.secondIdentityId()).path("name").asText("another person");
                    h.append("<div class=\"warn\">AMBIGUOUS: ").append(esc(other)).append(" is almost as close (")
                            .append(fmt(p.secondDistance(), 4)).append(", margin ").append(fmt(p.margin(), 3))
                            .append("): family resemblance? Check carefully.</div>");
                } else if (!Double.isInfinite(p.margin())) {
                    h.append("<div class=\"margin\">margin ").append(fmt(p.margin(), 3)).append(" over the next person</div>");
                }
                h.append("</div>\n</div>\n");
            }
            h.append("</section>\n");
        }
        h.append("<div id=\"kit-status\" hidden data-state=\"pending\"></div>\n</body>\n</html>\n");
        return h.toString();
    }

    /** Up to PERSON_FACES of the person's faces, anchors first, preferring those whose crop is on disk. */
    static List<String> personFaces(JsonNode person, Path cropsDir) {
        List<String> all = Identities.faceIds(person), withCrop = new ArrayList<>();
        for (String f : all) if (withCrop.size() < PERSON_FACES && isFile(cropFile(cropsDir, f))) withCrop.add(f);
        if (!withCrop.isEmpty()) return withCrop;
        return all.isEmpty() ? List.of() : List.of(all.get(0));
    }

    /**
     * Whether a regular file is there. (java.io's answer is a plain yes or no: the NIO call answers a
     * missing file with an exception, tens of microseconds each, and a page may ask thousands of times.)
     */
    private static boolean isFile(Path p) {
        return p.toFile().isFile();
    }

    static Path cropFile(Path cropsDir, String faceId) {
        return cropsDir.resolve(faceId + ".jpg");
    }

    /** Encodes each image once, however often the page shows it. */
    private static final class Images {
        final Input in;
        final Map<String, String> cache = new java.util.concurrent.ConcurrentHashMap<>();
        final Map<Path, Thumb> thumbs = new java.util.concurrent.ConcurrentHashMap<>();
        final ThumbnailCache kept;

        Images(Input in) {
            this.in = in;
            this.kept = ThumbnailCache.open(in.thumbnailsFile());
        }

        /** Makes the crops' and photos' images on every core, ahead of {@link #crop} and {@link #photo}. */
        void prepare(Collection<String> faceIds, Collection<Path> photoFiles) {
            new ArrayList<>(faceIds).parallelStream().forEach(this::cropUri);
            new ArrayList<>(photoFiles).parallelStream().forEach(f -> thumbs.computeIfAbsent(f, this::thumbnail));
            kept.save();
        }

        /** The crop as a data: URI, made once; null when it is not on this computer or unreadable. */
        String cropUri(String faceId) {
            return cache.computeIfAbsent("crop:" + faceId, k -> {
                Path f = cropFile(in.cropsDir(), faceId);
                if (!isFile(f)) return null;
                ThumbnailCache.Copy copy = kept.shrunk(f, CROP_SIDE);
                return copy == null ? null : jpegUri(copy.jpeg());
            });
        }

        String crop(String faceId, String cls) {
            String uri = cropUri(faceId);
            if (uri == null) return placeholder("no crop", cls, "crop " + faceId + ".jpg is not on this computer");
            return "<img class=\"" + cls + "\" src=\"" + uri + "\" alt=\"" + esc(faceId) + "\" title=\"" + esc(faceId) + "\">";
        }

        /** The photo's thumbnail (made once per photo) with the face framed by a box laid over it. */
        String photo(String faceId) {
            Path file = photoFile(faceId);
            Thumb t = file == null ? null : thumbs.computeIfAbsent(file, this::thumbnail);
            if (t == null) return placeholder("no photo", "thumb", "the photo of " + faceId + " is not on this computer");
            StringBuilder h = new StringBuilder("<div class=\"thumbwrap\"><img class=\"thumb\" src=\"").append(t.uri())
                    .append("\" alt=\"").append(esc(file.getFileName().toString())).append("\">");
            EmbeddingStore.Face f = in.store().get(faceId);
            float[] b = f == null ? null : f.bbox();
            if (b != null && b.length == 4 && t.width() > 0 && t.height() > 0) {
                h.append(String.format(Locale.ROOT, "<div class=\"box\" style=\"left:%.2f%%;top:%.2f%%;width:%.2f%%;height:%.2f%%\"></div>",
                        pct(b[0], t.width()), pct(b[1], t.height()), pct(b[2] - b[0], t.width()), pct(b[3] - b[1], t.height())));
            }
            return h.append("</div>").toString();
        }

        /** Null when the photo is missing or unreadable: the page shows a placeholder instead. */
        Thumb thumbnail(Path file) {
            if (!isFile(file)) return null;
            ThumbnailCache.Copy copy = kept.shrunk(file, THUMB_SIDE);
            return copy == null ? null : new Thumb(jpegUri(copy.jpeg()), copy.width(), copy.height());
        }

        String photoName(String faceId) {
            Path f = photoFile(faceId);
            return f == null ? "photo unknown" : f.getFileName().toString();
        }

        Path photoFile(String faceId) {
            String pid = in.faceToPhoto().get(faceId);
            String path = pid == null ? null : in.photoIndex().path("photos").path(pid).path("path").asText(null);
            if (path == null) {
                EmbeddingStore.Face f = in.store().get(faceId);
                path = f == null ? null : f.filename();
            }
            if (path == null || path.isEmpty()) return null;
            // Photos live under their base name (production builds URLs from it too).
            return in.photosDir().resolve(Path.of(path).getFileName().toString());
        }
    }

    /** A photo's thumbnail as a data: URI, with the size of the photo it shows (the boxes' frame). */
    record Thumb(String uri, int width, int height) {}

    static String jpegUri(byte[] jpeg) {
        return "data:image/jpeg;base64," + Base64.getEncoder().encodeToString(jpeg);
    }

    private static double pct(double v, int size) {
        return Math.max(0, Math.min(100, 100.0 * v / size));
    }

    /**
     * A grey box saying what is missing, drawn by the page's style as the review app draws it (one
     * element, not a picture: a page of an archive whose crops are elsewhere is mostly these).
     */
    static String placeholder(String text, String cls, String title) {
        return "<div class=\"" + cls + " placeholder\" title=\"" + esc(title) + "\">" + esc(text) + "</div>";
    }

    static String fmt(double v, int places) {
        if (Double.isInfinite(v)) return "∞";
        return Matcher.fixed(v, places);
    }

    static String esc(String s) {
        if (s == null) return "";
        StringBuilder b = new StringBuilder(s.length());
        for (char c : s.toCharArray()) {
            switch (c) {
                case '<' -> b.append("&lt;");
                case '>' -> b.append("&gt;");
                case '&' -> b.append("&amp;");
                case '"' -> b.append("&quot;");
                case '\'' -> b.append("&#39;");
                default -> b.append(c);
            }
        }
        return b.toString();
    }

    private static final String STATUS_SCRIPT = """
            <script>
            (function () {
              var errors = [];
              window.addEventListener('error', function (e) {
                if (e.target && e.target.tagName === 'IMG') return; // counted below
                errors.push(String(e.message || e));
              }, true);
              window.addEventListener('securitypolicyviolation', function (e) { errors.push('CSP blocked ' + e.blockedURI); });
              var original = console.error;
              console.error = function () { errors.push([].join.call(arguments, ' ')); original.apply(console, arguments); };
              window.addEventListener('load', function () {
                var imgs = document.images, loaded = 0, failed = 0;
                for (var i = 0; i < imgs.length; i++) {
                  if (imgs[i].complete && imgs[i].naturalWidth > 0) loaded++; else failed++;
                }
                var s = document.getElementById('kit-status');
                s.setAttribute('data-images', imgs.length);
                s.setAttribute('data-loaded', loaded);
                s.setAttribute('data-failed', failed);
                s.setAttribute('data-errors', errors.length);
                s.setAttribute('data-state', 'done');
                s.textContent = errors.join('\\n');
              });
            })();
            </script>
            """;

    private static final String STYLE = """
            <style>
            body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; background: #fafafa; }
            h1 { margin-bottom: .3em; }
            .banner { background: #fff4d6; border: 2px solid #e0b000; padding: .7em 1em; border-radius: 6px; font-size: 1.05em; }
            .banner.applied { background: #e6f4ea; border-color: #3c9a5f; }
            .meta { color: #666; font-size: .9em; }
            .promotions { background: #eef3fb; padding: .3em 1em; border-radius: 6px; }
            .person { background: #fff; border: 1px solid #ddd; border-radius: 8px; margin: 1.2em 0; padding: .8em 1em; }
            .person h2 { margin: .2em 0 .5em; }
            .count { color: #777; font-size: .7em; font-weight: normal; }
            .known { display: flex; gap: 6px; align-items: center; margin-bottom: .6em; }
            .known .label, figcaption { color: #666; font-size: .8em; }
            .known .label { margin-right: .5em; }
            .proposal { display: flex; gap: 1em; align-items: flex-start; border-top: 1px solid #eee; padding: .6em 0; }
            .proposal.ambiguous { background: #fff0f0; }
            figure { margin: 0; text-align: center; }
            figure.face { width: 130px; flex: none; }
            figure.face code { word-break: break-all; }
            figure.photo { width: 360px; flex: none; }
            img.new, img.known, div.new, div.known { width: 112px; height: 112px; object-fit: cover; border-radius: 4px; flex: none; }
            img.new, div.new { outline: 3px solid #3c7be0; }
            img.thumb { max-width: 360px; max-height: 360px; border-radius: 4px; display: block; }
            div.thumb { width: 160px; height: 160px; border-radius: 4px; }
            .placeholder { display: flex; align-items: center; justify-content: center; background: #e4e4e4; border: 1px dashed #aaa;
                           color: #666; font-size: .8em; box-sizing: border-box; }
            figure .placeholder { margin: 0 auto; }
            .thumbwrap { position: relative; display: inline-block; }
            .thumbwrap .box { position: absolute; border: 2px solid #ffd400; box-shadow: 0 0 0 1px #000; box-sizing: border-box; }
            .facts div { margin: .2em 0; }
            .conf { font-weight: bold; display: inline-block; padding: .1em .5em; border-radius: 4px; color: #fff; }
            .conf.very-high { background: #1e7d3a; } .conf.high { background: #3c9a5f; }
            .conf.moderate { background: #c98a00; } .conf.low { background: #b33; }
            .warn { color: #b00; font-weight: bold; }
            .margin { color: #666; font-size: .9em; }
            .empty { font-size: 1.1em; }
            </style>
            """;
}
