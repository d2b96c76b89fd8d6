import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The review page of step 4, rendered by a real headless Chromium: it must open from disk with
 * no server, load every image, and raise no script error. A screenshot is left in
 * build/review-page.png for a person to look at.
 */
class ReviewPageTest {
    static final Pattern IMG_SRC = Pattern.compile("<img [^>]*src=\"([^\"]*)\"");

    /** A fixture archive with photos and crops on disk, except a few left missing on purpose. */
    static Path archiveWithImages(Path dir, Set<String> missingCrops, Set<String> missingPhotos) throws Exception {
        ClusterTest.seed(dir);
        Path photos = Files.createDirectories(dir.resolve("photos")), crops = Files.createDirectories(dir.resolve("crops"));
        ObjectNode index = JsonFiles.readObject(dir.resolve("photo_index.json"));
        EmbeddingStore store = EmbeddingStore.open(dir);
        int n = 0;
        for (var it = index.get("photos").fields(); it.hasNext(); n++) {
            var e = it.next();
            String name = e.getValue().get("path").asText();
            if (missingPhotos.contains(name)) continue;
            BufferedImage img = new BufferedImage(2000, 1500, BufferedImage.TYPE_INT_RGB);
            Graphics2D g = img.createGraphics();
            g.setColor(new Color(90 + n * 2 % 100, 110, 140));
            g.fillRect(0, 0, 2000, 1500);
            for (JsonNode f : e.getValue().get("face_ids")) {
                EmbeddingStore.Face face = store.get(f.asText());
                if (face == null) continue;
                float[] b = face.bbox();
                g.setColor(new Color(230, 190, 160));
                g.fillOval((int) b[0], (int) b[1], (int) (b[2] - b[0]), (int) (b[3] - b[1]));
            }
            g.dispose();
            ImageIO.write(img, "jpg", photos.resolve(name).toFile());
        }
        drawCrops(store, crops, missingCrops);
        return dir;
    }

    /** A plain face-coloured crop for every face of {@code store}, but those in {@code missing}. */
    static void drawCrops(EmbeddingStore store, Path crops, Set<String> missing) throws Exception {
        int k = 0;
        for (EmbeddingStore.Face f : store.faces()) {
            if (missing.contains(f.faceId())) continue;
            BufferedImage crop = new BufferedImage(112, 112, BufferedImage.TYPE_INT_RGB);
            Graphics2D g = crop.createGraphics();
            g.setColor(new Color(40 + (k * 37) % 200, 80 + (k * 11) % 150, 120));
            g.fillRect(0, 0, 112, 112);
            g.setColor(new Color(230, 190, 160));
            g.fillOval(20, 10, 72, 92);
            g.dispose();
            ImageIO.write(crop, "jpg", crops.resolve(f.faceId() + ".jpg").toFile());
            k++;
        }
    }

    static Path runStep(Path dir) throws Exception {
        TestConsole console = new TestConsole();
        KitContext c = TestContext.withData(dir, console.console).withMode(KitContext.Mode.DRY_RUN);
        // The kit's own folder (its kept thumbnails) inside this test's folder too.
        c = c.withLayout(Layout.under(dir.resolve("kit"), dir.resolve("no-models")).withData(dir)
                .withPhotos(dir.resolve("photos")).withCrops(dir.resolve("crops")));
        var o = StepRunner.run(new ClusterStep(new ClusterStep.Options(java.util.OptionalDouble.of(1.25), java.util.OptionalInt.empty())), c);
        Path page = o.plan().reviewPage();
        assertTrue(Files.isRegularFile(page));
        assertTrue(console.text().contains("review page: " + page), "the step prints the page's path");
        assertEquals(dir.resolve("review"), page.getParent());
        assertTrue(page.getFileName().toString().matches("\\d{8}-\\d{6}(-\\d+)?\\.html"), page.toString());
        return page;
    }

    @Test
    void thePageIsSelfContainedGroupedByPersonAndSaysNothingWasApplied(@TempDir Path dir) throws Exception {
        // A new face's crop, a known face's crop and one photo are missing.
        Path page = runStep(archiveWithImages(dir, Set.of("inbox_f01e7f7641a7", "Image 035_compress:face0"), Set.of("IMG_4242.jpg")));
        String html = Files.readString(page, StandardCharsets.UTF_8);
        assertTrue(html.contains("Nothing has been applied."), "the page says nothing was applied");

        List<String> srcs = new ArrayList<>();
        var m = IMG_SRC.matcher(html);
        while (m.find()) srcs.add(m.group(1));
        assertFalse(srcs.isEmpty());
        for (String s : srcs) assertTrue(s.startsWith("data:image/"), "every image is inside the page: " + s.substring(0, Math.min(60, s.length())));
        assertFalse(Pattern.compile("(src|href)=\"(https?:|file:|/)").matcher(html).find(), "nothing refers outside the file");
        assertTrue(srcs.stream().anyMatch(s -> s.startsWith("data:image/jpeg;base64,")), "real crops and thumbnails are embedded");
        assertTrue(html.contains("<div class=\"box\" style=\"left:"), "the face is framed on its photo");

        // Placeholders, never broken images: the missing new-face crop and the missing photo.
        assertTrue(html.contains("title=\"crop inbox_f01e7f7641a7.jpg is not on this computer\""), "missing crop placeholder");
        assertTrue(html.contains("title=\"the photo of inbox_a82cf8265b16 is not on this computer\""), "missing photo placeholder");
        // Drawn by the page's style, as the review app draws them: an archive without its crops on this
        // computer gave a 1.7 MB page at 17,500 faces, three quarters of it copies of one picture.
        assertTrue(html.contains("<div class=\"new placeholder\" title=\"crop inbox_f01e7f7641a7.jpg is not on this computer\">no crop</div>"), html);
        assertFalse(html.contains("data:image/svg"), "no picture of a placeholder in the page");

        // One section per proposed person, in order of the closest proposal; two ambiguous proposals marked.
        JsonNode proposals = JsonFiles.readObject(dir.resolve("proposals.json")).get("proposals");
        Set<String> people = new LinkedHashSet<>();
        for (JsonNode p : proposals) people.add(p.get("target_identity_name").asText());
        List<String> sections = new ArrayList<>();
        var h2 = Pattern.compile("<section class=\"person\">\\s*<h2>([^<]*) <span").matcher(html);
        while (h2.find()) sections.add(h2.group(1));
        assertEquals(new ArrayList<>(people).stream().map(ReviewPage::esc).toList(), sections);
        assertEquals(proposals.size(), count(html, "<div class=\"proposal"));
        assertEquals(2, count(html, "<div class=\"proposal ambiguous\">"));
        assertTrue(html.contains("AMBIGUOUS: Selma Sedikaro is almost as close"), "the rival person is named");
        assertTrue(html.contains("distance <b>0.6625</b>") && html.contains("VERY HIGH"));
        assertTrue(html.contains("Ḥayyim Franco") && html.contains("Béatrice Hasson"), "names in UTF-8");
        // The page stays small: thumbnails, not photos.
        assertTrue(Files.size(page) < 1_500_000, "page size " + Files.size(page));
    }

    @Test
    void theImagesAreMadeInMemoryWithoutATemporaryFileEach(@TempDir Path dir) throws Exception {
        // ImageIO's default for a stream is a temporary file, created and deleted for every image read or
        // written: thousands per page (about a third of the page's time). With its cache folder gone, any
        // image still made that way fails and shows as a placeholder.
        Path archive = archiveWithImages(Files.createDirectories(dir.resolve("archive")), Set.of(), Set.of());
        Path cache = Files.createDirectories(dir.resolve("imageio-cache"));
        ImageIO.setCacheDirectory(cache.toFile());
        try {
            Files.delete(cache);
            String html = Files.readString(runStep(archive));
            assertFalse(html.contains(" placeholder\""), "every crop and photo is on disk, so none is a placeholder");
            assertTrue(count(html, "src=\"data:image/jpeg;base64,") > 0, "the images are in the page");
            byte[] jpeg = Photos.encodeJpeg(new Photos.Image(8, 8), 0.9f);
            assertEquals(8, Photos.decode(jpeg, "tiny.jpg").image().width, "a photo decodes and encodes in memory too");
        } finally {
            ImageIO.setCacheDirectory(null);
        }
    }

    /**
     * A page's crops and photos are shrunk once and kept (by their bytes) for the next page: a
     * 17,500-face page spent four seconds making its 3,389 crops every time. A crop that changes gets
     * a new copy; a file of copies cut short (a power cut) is read up to its last whole copy; a photo's
     * kept copy still frames its face where it was (the photo's own size is kept with it).
     */
    @Test
    void theNextPageTakesItsCropsFromTheKeptCopiesUnlessACropChanged(@TempDir Path dir) throws Exception {
        Path archive = archiveWithImages(dir, Set.of(), Set.of());
        Path kept = dir.resolve("kit/.kit/review-thumbnails.pack");
        String first = Files.readString(runStep(archive));
        Set<String> imageUris = new LinkedHashSet<>();
        var m = Pattern.compile("<img class=\"(?:new|known|thumb)\" src=\"([^\"]*)\"").matcher(first);
        while (m.find()) imageUris.add(m.group(1));
        assertFalse(imageUris.isEmpty());
        assertEquals(imageUris.size(), ThumbnailCache.count(kept), "one kept copy per distinct crop and photo shown");

        // The next page makes no copy: the file is not even rewritten, and the page is the same.
        Object fileKey = Files.readAttributes(kept, java.nio.file.attribute.BasicFileAttributes.class).fileKey();
        String second = Files.readString(runStep(archive));
        assertEquals(fileKey, Files.readAttributes(kept, java.nio.file.attribute.BasicFileAttributes.class).fileKey(), "nothing new to keep");
        assertEquals(withoutRun(first), withoutRun(second));

        // Cut short in the middle of a copy: the whole ones are used, the rest made again, the same.
        byte[] whole = Files.readAllBytes(kept);
        Files.write(kept, java.util.Arrays.copyOf(whole, whole.length / 2));
        int left = ThumbnailCache.count(kept);
        assertTrue(left > 0 && left < imageUris.size(), left + " whole copies left of " + imageUris.size());
        assertEquals(withoutRun(first), withoutRun(Files.readString(runStep(archive))));
        assertEquals(imageUris.size(), ThumbnailCache.count(kept), "every copy kept again");

        // A crop that changes is shrunk again: the page never shows a stale face.
        var shown = Pattern.compile("<img class=\"new\" src=\"[^\"]*\" alt=\"([^\"]*)\"").matcher(first);
        assertTrue(shown.find());
        Path crop = dir.resolve("crops").resolve(shown.group(1) + ".jpg");
        BufferedImage other = new BufferedImage(150, 120, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = other.createGraphics();
        g.setColor(new Color(10, 200, 30));
        g.fillRect(0, 0, 150, 120);
        g.dispose();
        ImageIO.write(other, "jpg", crop.toFile());
        String third = Files.readString(runStep(archive));
        String changed = ReviewPage.jpegUri(ThumbnailCache.shrunk(Photos.decode(crop).image(), ReviewPage.CROP_SIDE));
        assertTrue(third.contains(changed), "the changed crop's new copy is shown");
        assertEquals(imageUris.size() + 1, ThumbnailCache.count(kept), "kept beside the old one");

        // A kit folder that cannot be written only costs time: the same page.
        Files.delete(kept);
        Files.createDirectories(kept);
        assertEquals(withoutRun(third), withoutRun(Files.readString(runStep(archive))));
    }

    /** The page without its run name and time (two runs differ only there). */
    static String withoutRun(String html) {
        return html.replaceAll("\\d{8}-\\d{6}(-\\d+)?", "RUN").replaceAll("\\d{4}-\\d\\d-\\d\\dT[0-9:.+Z-]+", "TIME");
    }

    @Test
    void chromiumRendersEveryImageWithNoScriptErrors(@TempDir Path dir) throws Exception {
        String chromium = findChromium();
        Assumptions.assumeTrue(chromium != null, "chromium is not installed (apt-get install -y chromium); the rendering test is skipped");
        Path page = runStep(archiveWithImages(dir, Set.of("inbox_f01e7f7641a7"), Set.of("IMG_4242.jpg")));
        int images = count(Files.readString(page), "<img ");

        Map<String, String> status = render(chromium, page, dir);
        assertEquals("done", status.get("data-state"), "the page's load handler ran: " + status);
        assertEquals(String.valueOf(images), status.get("data-images"), status.toString());
        assertEquals(String.valueOf(images), status.get("data-loaded"), "every image loaded: " + status);
        assertEquals("0", status.get("data-failed"), status.toString());
        assertEquals("0", status.get("data-errors"), "no script or console errors: " + status);

        // The screenshot for a person to look at.
        Path shot = KitProcess.root().resolve("build/review-page.png");
        Files.createDirectories(shot.getParent());
        Files.deleteIfExists(shot);
        chrome(chromium, dir, "--screenshot=" + shot, "--window-size=1280,2200", page.toUri().toString());
        assertTrue(Files.exists(shot), "chromium wrote " + shot);
        BufferedImage png = ImageIO.read(shot.toFile());
        assertEquals(1280, png.getWidth());
        Set<Integer> colours = new HashSet<>();
        for (int y = 0; y < png.getHeight(); y += 7) for (int x = 0; x < png.getWidth(); x += 7) colours.add(png.getRGB(x, y));
        assertTrue(colours.size() > 50, "the screenshot shows a rendered page, not a blank one (" + colours.size() + " colours)");
    }

    @Test
    void theStatusCheckItselfCatchesABrokenImageAndAScriptError(@TempDir Path dir) throws Exception {
        String chromium = findChromium();
        Assumptions.assumeTrue(chromium != null, "chromium is not installed (apt-get install -y chromium); the rendering test is skipped");
        Path page = runStep(archiveWithImages(dir, Set.of(), Set.of()));
        String html = Files.readString(page).replace("</body>",
                "<img src=\"data:image/png;base64,AAAA\"><script>throw new Error('boom')</script></body>");
        Path broken = dir.resolve("broken.html");
        Files.writeString(broken, html);
        Map<String, String> status = render(chromium, broken, dir);
        assertEquals("1", status.get("data-failed"), status.toString());
        assertEquals("1", status.get("data-errors"), status.toString());
    }

    // ------------------------------------------------------------------ driving Chromium

    static String findChromium() {
        for (String c : List.of("chromium", "chromium-browser", "google-chrome")) {
            for (String dirName : System.getenv().getOrDefault("PATH", "/usr/bin").split(File.pathSeparator)) {
                Path p = Path.of(dirName, c);
                if (Files.isExecutable(p)) return p.toString();
            }
        }
        return null;
    }

    /** Loads the page from disk (file: URL, no server) and returns the attributes of #kit-status after load. */
    static Map<String, String> render(String chromium, Path page, Path tmp) throws Exception {
        String dom = chrome(chromium, tmp, "--virtual-time-budget=10000", "--dump-dom", page.toUri().toString());
        var m = Pattern.compile("<div id=\"kit-status\"([^>]*)>").matcher(dom);
        assertTrue(m.find(), "no #kit-status in the rendered page");
        Map<String, String> attrs = new java.util.TreeMap<>();
        var a = Pattern.compile("([\\w-]+)=\"([^\"]*)\"").matcher(m.group(1));
        while (a.find()) attrs.put(a.group(1), a.group(2));
        return attrs;
    }

    static String chrome(String chromium, Path tmp, String... args) throws Exception {
        Path profile = Files.createTempDirectory(tmp, "chromium-profile");
        List<String> cmd = new ArrayList<>(List.of(chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--user-data-dir=" + profile));
        cmd.addAll(List.of(args));
        Path out = tmp.resolve("chromium-out.txt"), err = tmp.resolve("chromium-err.txt");
        Process p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        if (!p.waitFor(90, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            fail("chromium did not finish in 90 s: " + Files.readString(err));
        }
        String stdout = Files.readString(out, StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), "chromium failed: " + Files.readString(err));
        return stdout;
    }

    static int count(String text, String needle) {
        int n = 0;
        for (int i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + needle.length())) n++;
        return n;
    }
}
