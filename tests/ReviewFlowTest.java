//DEPS org.seleniumhq.selenium:selenium-java:4.52.0
import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.interactions.Actions;
import org.openqa.selenium.logging.LogEntry;
import org.openqa.selenium.logging.LogType;
import org.openqa.selenium.logging.LoggingPreferences;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The review page in a real browser: Debian's Chromium driven by Selenium through the system's
 * chromedriver (nothing downloaded). Decisions are clicked and typed, the page is reloaded
 * mid-way, "Done" applies them, and identities.json, the backup and a second step 4 run show
 * exactly those changes. Also: a review killed with kill -9 loses none of its decisions.
 */
class ReviewFlowTest {
    static final Path CHROMIUM = Path.of("/usr/bin/chromium"), CHROMEDRIVER = Path.of("/usr/bin/chromedriver");
    /** The three decisions of the story: two faces accepted, one rejected (legacy fixture, threshold 1.25). */
    static final String ACCEPT_1 = "Image 050_compress:face2", ACCEPT_2 = "inbox_f01e7f7641a7", REJECT_1 = "inbox_a82cf8265b16";

    static ChromeDriver driver;
    static Path profile;

    // ------------------------------------------------------------------ the archive (shared by the review tests)

    /**
     * A small real archive under {@code work}: the legacy fixture's identities, photo index and
     * embeddings in work/data, a photo per photo-index entry in work/raw_photos and a crop per face
     * in work/raw_photos/crops, except one crop and one photo left missing on purpose (the page
     * shows placeholders); then step 4 (threshold 1.25) writes proposals.json.
     */
    static Path archive(Path work) throws Exception {
        Path data = Files.createDirectories(work.resolve("data"));
        for (String n : List.of("identities.json", "photo_index.json", "embeddings.npy")) {
            Files.copy(ClusterTest.LEGACY.resolve("data").resolve(n), data.resolve(n));
            data.resolve(n).toFile().setWritable(true);
        }
        Path photos = Files.createDirectories(work.resolve("raw_photos")), crops = Files.createDirectories(photos.resolve("crops"));
        ObjectNode index = JsonFiles.readObject(data.resolve("photo_index.json"));
        EmbeddingStore store = EmbeddingStore.open(data);
        int n = 0;
        for (var it = index.get("photos").fields(); it.hasNext(); n++) {
            var e = it.next();
            String name = Names.basename(e.getValue().get("path").asText());
            if (name.equals("IMG_4242.jpg")) continue;  // one photo missing
            BufferedImage img = new BufferedImage(1000, 750, BufferedImage.TYPE_INT_RGB);
            Graphics2D g = img.createGraphics();
            g.setColor(new Color(80 + (n * 23) % 120, 110, 150 - (n * 7) % 60));
            g.fillRect(0, 0, 1000, 750);
            for (JsonNode f : e.getValue().get("face_ids")) {
                EmbeddingStore.Face face = store.get(f.asText());
                if (face == null || face.bbox() == null) continue;
                float[] b = face.bbox();
                g.setColor(new Color(230, 190, 160));
                g.fillOval((int) b[0] / 2, (int) b[1] / 2, (int) (b[2] - b[0]) / 2, (int) (b[3] - b[1]) / 2);
            }
            g.dispose();
            ImageIO.write(img, "jpg", photos.resolve(name).toFile());
        }
        ReviewPageTest.drawCrops(store, crops, Set.of(REJECT_1));  // one crop missing
        cluster(work);
        return work;
    }

    /** Step 4 on the archive under {@code work} (threshold 1.25, the archive's own w600k_r50 labels); returns its proposals. */
    static List<JsonNode> cluster(Path work) throws Exception {
        KitContext ctx = TestContext.under(work, Map.of(), new TestConsole().console, KitContext.Mode.DRY_RUN);
        ctx = ctx.withLayout(ctx.layout().withModels(work.resolve("no-models")));
        StepRunner.run(new ClusterStep(new ClusterStep.Options(java.util.OptionalDouble.of(1.25), java.util.OptionalInt.empty())), ctx);
        List<JsonNode> out = new ArrayList<>();
        JsonFiles.readObject(work.resolve("data/proposals.json")).get("proposals").forEach(out::add);
        return out;
    }

    static KitContext context(Path work, TestConsole console, KitContext.Mode mode) {
        return TestContext.under(work, Map.of(), console.console, mode);
    }

    /** The review of {@code work} running in this JVM (no browser opened); the address once it is served. */
    record Running(CompletableFuture<ReviewSession.Outcome> outcome, TestConsole console, URI url) {}

    static Running startReview(Path work, KitContext.Mode mode) throws Exception {
        TestConsole console = new TestConsole();
        KitContext ctx = context(work, console, mode);
        CompletableFuture<ReviewSession.Outcome> f = CompletableFuture.supplyAsync(() -> {
            try {
                return ReviewSession.run(ctx, new ReviewSession.Options(ReviewSession.ReviewMode.BROWSER, 0, ReviewSession.Browser.PRINT_ONLY));
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        var m = Pattern.compile("http://127\\.0\\.0\\.1:\\d+/[A-Za-z0-9_-]+/");
        for (int i = 0; i < 600; i++) {
            var hit = m.matcher(console.text());
            if (hit.find()) return new Running(f, console, URI.create(hit.group()));
            if (f.isDone()) fail("the review ended before serving its page: " + console.text());
            Thread.sleep(100);
        }
        throw new AssertionError("no review address printed: " + console.text());
    }

    /** Which identities differ between two identities.json documents, and how. */
    static Set<String> changedIdentities(JsonNode before, JsonNode after) {
        Set<String> out = new TreeSet<>();
        Set<String> all = new HashSet<>();
        before.get("identities").fieldNames().forEachRemaining(all::add);
        after.get("identities").fieldNames().forEachRemaining(all::add);
        for (String id : all) if (!before.get("identities").path(id).equals(after.get("identities").path(id))) out.add(id);
        return out;
    }

    static JsonNode proposal(List<JsonNode> proposals, String face) {
        for (JsonNode p : proposals) if (p.get("face_id").asText().equals(face)) return p;
        throw new AssertionError("no proposal for " + face);
    }

    /**
     * identities.json after the review holds exactly: each accepted face moved from its source to
     * its person's candidates (source emptied -> merged_into), each rejected pair remembered in the
     * source's negative_ids, both versions bumped; nothing else changed.
     */
    static void assertExactlyApplied(JsonNode before, JsonNode after, List<JsonNode> proposals, List<String> accepted, List<String> rejected) {
        Set<String> expectChanged = new TreeSet<>();
        JsonNode b = before.get("identities"), a = after.get("identities");
        for (String face : accepted) {
            JsonNode p = proposal(proposals, face);
            String src = p.get("source_identity_id").asText(), tgt = p.get("target_identity_id").asText();
            expectChanged.add(src);
            expectChanged.add(tgt);
            assertFalse(Identities.faceIds(a.get(src)).contains(face), face + " left its source");
            assertTrue(Identities.faceIds(b.get(src)).contains(face));
            List<String> cands = new ArrayList<>();
            a.get(tgt).get("candidate_ids").forEach(c -> cands.add(Identities.faceIdOf(c)));
            assertTrue(cands.contains(face), face + " is among the person's candidates");
            a.get(tgt).path("anchor_ids").forEach(x -> assertNotEquals(face, Identities.faceIdOf(x), "never an anchor"));
            assertEquals(b.get(tgt).get("version_id").asLong() + 1, a.get(tgt).get("version_id").asLong());
            assertEquals(b.get(src).get("version_id").asLong() + 1, a.get(src).get("version_id").asLong());
            assertNotEquals(b.get(tgt).get("updated_at"), a.get(tgt).get("updated_at"));
            if (Identities.faceIds(a.get(src)).isEmpty()) assertEquals(tgt, a.get(src).get("merged_into").asText());
            assertEquals("CONFIRMED", a.get(tgt).get("state").asText(), "the person is as confirmed as before, no more");
        }
        for (String face : rejected) {
            JsonNode p = proposal(proposals, face);
            String src = p.get("source_identity_id").asText(), tgt = p.get("target_identity_id").asText();
            expectChanged.add(src);
            List<String> neg = new ArrayList<>();
            a.get(src).get("negative_ids").forEach(x -> neg.add(x.asText()));
            assertTrue(neg.contains("identity:" + tgt), "rejection remembered: " + neg);
            assertTrue(Identities.faceIds(a.get(src)).contains(face), "a rejected face stays where it was");
            assertEquals(b.get(src).get("version_id").asLong() + 1, a.get(src).get("version_id").asLong());
            assertEquals(b.get(tgt), a.get(tgt), "the person of a rejection is untouched");
        }
        assertEquals(expectChanged, changedIdentities(before, after), "exactly these identities changed");
        assertEquals(before.get("history"), after.get("history"));
    }

    /** A second step 4 run proposes none of the accepted faces again, and never the rejected pair. */
    static void assertSecondClusterRun(Path work, List<JsonNode> first, List<String> accepted, List<String> rejected) throws Exception {
        List<JsonNode> again = cluster(work);
        for (String face : rejected) {
            JsonNode p = proposal(first, face);
            for (JsonNode q : again) {
                assertFalse(q.get("source_identity_id").equals(p.get("source_identity_id")) && q.get("target_identity_id").equals(p.get("target_identity_id")),
                        "the rejected pair " + p.get("source_identity_name") + " -> " + p.get("target_identity_name") + " is proposed again");
            }
        }
        for (String face : accepted) for (JsonNode q : again) assertNotEquals(face, q.get("face_id").asText(), "accepted face proposed again");
    }

    // ------------------------------------------------------------------ the browser

    @BeforeAll
    static void browser() throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(CHROMIUM) && Files.isExecutable(CHROMEDRIVER),
                "chromium and chromium-driver are not installed (apt-get install -y chromium chromium-driver); the browser tests are skipped");
        System.setProperty("webdriver.chrome.driver", CHROMEDRIVER.toString());
        profile = Files.createTempDirectory("review-chromium");
        ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(CHROMEDRIVER.toFile()).usingAnyFreePort().build();
        ChromeOptions o = new ChromeOptions();
        o.setBinary(CHROMIUM.toFile());
        o.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1600",
                "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--user-data-dir=" + profile);
        LoggingPreferences logs = new LoggingPreferences();
        logs.enable(LogType.BROWSER, Level.ALL);
        o.setCapability(ChromeOptions.LOGGING_PREFS, logs);
        driver = new ChromeDriver(service, o);
    }

    @AfterAll
    static void quit() {
        if (driver != null) driver.quit();
    }

    static WebDriverWait waiting() {
        return new WebDriverWait(driver, Duration.ofSeconds(30));
    }

    static void open(URI url) {
        driver.get(url.toString());
        waiting().until(d -> "done".equals(d.findElement(By.id("kit-status")).getAttribute("data-state")));
    }

    static WebElement card(String face) {
        return driver.findElement(By.cssSelector(".proposal[data-face=\"" + face + "\"]"));
    }

    static void click(String face, String decision) {
        WebElement button = card(face).findElement(By.cssSelector("button.decide." + decision));
        ((JavascriptExecutor) driver).executeScript("arguments[0].scrollIntoView({block: 'center'})", button);
        button.click();
        waitSaved();
    }

    static void waitSaved() {
        waiting().until(d -> "0".equals(d.findElement(By.id("save-status")).getAttribute("data-pending")));
        assertFalse(driver.findElement(By.id("save-status")).getText().startsWith("NOT"), driver.findElement(By.id("save-status")).getText());
    }

    static String decisionOf(String face) {
        return card(face).getAttribute("data-decision");
    }

    static String count(String what) {
        return driver.findElement(By.id("count-" + what)).getText();
    }

    /** Script errors, failed images and the browser's own SEVERE log lines: none may occur. */
    static void assertNoScriptErrors() {
        WebElement status = driver.findElement(By.id("kit-status"));
        assertEquals("0", status.getAttribute("data-errors"), "script errors on the page: " + status.getAttribute("textContent"));
        assertEquals("0", status.getAttribute("data-failed"), "images that did not load");
        List<String> severe = new ArrayList<>();
        for (LogEntry e : driver.manage().logs().get(LogType.BROWSER)) if (e.getLevel().intValue() >= Level.SEVERE.intValue()) severe.add(e.getMessage());
        assertEquals(List.of(), severe, "the browser's log has errors");
    }

    static Map<String, String> savedDecisions(Path work) throws Exception {
        Path dir = work.resolve("data/review");
        Map<String, String> out = new java.util.TreeMap<>();
        try (var s = Files.list(dir)) {
            for (Path f : (Iterable<Path>) s::iterator) {
                if (!f.getFileName().toString().matches("decisions-.*\\.json")) continue;
                JsonFiles.readObject(f).get("decisions").fields().forEachRemaining(e -> out.put(e.getKey(), e.getValue().get("decision").asText()));
            }
        }
        return out;
    }

    @Test
    void clicksAreSavedAtOnceSurviveAReloadAndDoneAppliesExactlyThem(@TempDir Path work) throws Exception {
        archive(work);
        List<JsonNode> proposals = cluster(work);
        assertEquals(24, proposals.size());
        JsonNode before = JsonFiles.readObject(work.resolve("data/identities.json"));
        Running r = startReview(work, KitContext.Mode.APPLY);
        open(r.url());

        assertEquals(proposals.size(), driver.findElements(By.cssSelector(".proposal")).size());
        assertEquals(2, driver.findElements(By.cssSelector(".proposal.ambiguous")).size(), "ambiguous proposals are marked");
        assertEquals("24", count("left"));
        // Grouped by person, the person of the closest proposal first.
        assertTrue(driver.findElements(By.cssSelector(".person h2")).get(0).getText().startsWith("Leon Capeluto"));
        // The missing crop is a placeholder, not a broken image.
        assertEquals("no crop", card(REJECT_1).findElement(By.cssSelector("figure.face .placeholder")).getText());
        assertNoScriptErrors();

        click(ACCEPT_1, "accept");
        click(ACCEPT_2, "accept");
        assertEquals(Map.of(ACCEPT_1, "accept", ACCEPT_2, "accept"), savedDecisions(work), "saved on disk at once");

        driver.navigate().refresh();
        waiting().until(d -> "done".equals(d.findElement(By.id("kit-status")).getAttribute("data-state")));
        assertEquals("accept", decisionOf(ACCEPT_1), "the reload shows the decisions made");
        assertEquals("accept", decisionOf(ACCEPT_2));
        assertEquals("2", count("accepted"));
        assertEquals("22", count("left"));

        click(REJECT_1, "reject");
        assertEquals("1", count("rejected"));
        assertEquals("21", count("left"));
        assertNoScriptErrors();
        screenshot("review-decisions.png");
        assertEquals(before, JsonFiles.readObject(work.resolve("data/identities.json")), "nothing is applied before Done");

        driver.findElement(By.id("done")).click();
        waiting().until(d -> !d.findElements(By.id("summary")).isEmpty());
        String summary = driver.findElement(By.id("summary")).getText();
        assertTrue(summary.contains("2 face(s) added") && summary.contains("1 rejection(s) remembered"), summary);
        ReviewSession.Outcome o = r.outcome().get(60, TimeUnit.SECONDS);
        assertEquals(2, o.appliedAccepted());
        assertEquals(1, o.appliedRejected());
        assertFalse(o.noDecisions());
        assertNoScriptErrors();

        JsonNode after = JsonFiles.readObject(work.resolve("data/identities.json"));
        assertExactlyApplied(before, after, proposals, List.of(ACCEPT_1, ACCEPT_2), List.of(REJECT_1));
        Path backup = work.resolve("data/backups/identities.json." + o.backup() + ".bak");
        assertTrue(Files.exists(backup), "a backup was made first");
        assertEquals(before, JsonFiles.readObject(backup), "the backup holds identities.json as it was before the review");
        assertSecondClusterRun(work, proposals, List.of(ACCEPT_1, ACCEPT_2), List.of(REJECT_1));
        System.out.println(r.console().text());
    }

    @Test
    void theKeyboardDecidesAndMoves(@TempDir Path work) throws Exception {
        archive(work);
        List<JsonNode> proposals = cluster(work);
        Running r = startReview(work, KitContext.Mode.APPLY);
        open(r.url());
        List<WebElement> cards = driver.findElements(By.cssSelector(".proposal"));
        String c0 = cards.get(0).getAttribute("data-face"), c1 = cards.get(1).getAttribute("data-face"),
                c2 = cards.get(2).getAttribute("data-face"), c3 = cards.get(3).getAttribute("data-face");
        assertTrue(cards.get(0).getAttribute("class").contains("selected"), "the first face is selected");
        Actions keys = new Actions(driver);
        keys.sendKeys("a").perform();   // accept the first, move on
        keys.sendKeys("r").perform();   // reject the second, move on
        keys.sendKeys("j").perform();   // pass over the third
        waitSaved();
        assertTrue(card(c3).getAttribute("class").contains("selected"), "j moved to the fourth face");
        keys.sendKeys("k").perform();
        assertTrue(card(c2).getAttribute("class").contains("selected"), "k moved back to the third");
        keys.sendKeys("s").perform();   // skip the third
        waitSaved();
        assertEquals("accept", decisionOf(c0));
        assertEquals("reject", decisionOf(c1));
        assertEquals("skip", decisionOf(c2));
        assertEquals("", decisionOf(c3));
        assertEquals(Map.of(c0, "accept", c1, "reject", c2, "skip"), savedDecisions(work));
        assertTrue(driver.findElement(By.id("help")).getAttribute("hidden") != null);
        keys.sendKeys("?").perform();
        assertNull(driver.findElement(By.id("help")).getAttribute("hidden"), "? shows the help");
        keys.sendKeys("?").perform();

        // "Accept all of this person" never takes an ambiguous proposal.
        WebElement ambiguous = driver.findElements(By.cssSelector(".proposal.ambiguous")).get(0);
        String amb = ambiguous.getAttribute("data-face");
        WebElement section = ambiguous.findElement(By.xpath("ancestor::section"));
        WebElement all = section.findElement(By.cssSelector("button.accept-all"));
        ((JavascriptExecutor) driver).executeScript("arguments[0].scrollIntoView({block: 'center'})", all);
        all.click();
        waitSaved();
        assertEquals("", decisionOf(amb), "accept-all left the ambiguous proposal alone");
        for (WebElement other : section.findElements(By.cssSelector(".proposal:not(.ambiguous)"))) {
            assertEquals("accept", other.getAttribute("data-decision"));
        }
        // ... and takes every other proposal of a person at once.
        WebElement luna = driver.findElement(By.xpath("//section[@class='person'][.//h2[starts-with(normalize-space(.), 'Luna Leonora Capuano')]]"));
        List<WebElement> lunas = luna.findElements(By.cssSelector(".proposal"));
        assertEquals(5, lunas.size());
        WebElement lunaAll = luna.findElement(By.cssSelector("button.accept-all"));
        ((JavascriptExecutor) driver).executeScript("arguments[0].scrollIntoView({block: 'center'})", lunaAll);
        lunaAll.click();
        waitSaved();
        for (WebElement c : lunas) assertEquals("accept", c.getAttribute("data-decision"));
        assertEquals("6", count("accepted"));
        assertNoScriptErrors();
        driver.findElement(By.id("done")).click();
        ReviewSession.Outcome o = r.outcome().get(60, TimeUnit.SECONDS);
        assertEquals(6, o.appliedAccepted());
        assertEquals(1, o.appliedRejected());
        assertNoScriptErrors();
        assertFalse(proposals.isEmpty());
    }

    /** kill -9 of the review after three decisions: the file is whole, and the next review shows them. */
    @Test
    void aReviewKilledWithKill9LosesNoDecision(@TempDir Path work) throws Exception {
        archive(work);
        JsonNode before = JsonFiles.readObject(work.resolve("data/identities.json"));
        ScriptReview first = ScriptReview.start(work);
        HttpClient http = HttpClient.newHttpClient();
        for (String[] d : List.of(new String[] {ACCEPT_1, "accept"}, new String[] {ACCEPT_2, "accept"}, new String[] {REJECT_1, "reject"})) {
            HttpResponse<String> res = http.send(ReviewSecurityTest.post(first.url(), "api/decision", first.url(),
                    "{\"face_id\": \"" + d[0] + "\", \"decision\": \"" + d[1] + "\"}"), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, res.statusCode(), res.body());
        }
        first.process().destroyForcibly().waitFor(20, TimeUnit.SECONDS);  // SIGKILL: no chance to clean up
        assertEquals(Map.of(ACCEPT_1, "accept", ACCEPT_2, "accept", REJECT_1, "reject"), savedDecisions(work), "the file is whole");
        try (var s = Files.list(work.resolve("data/review"))) {
            assertTrue(s.noneMatch(p -> p.getFileName().toString().endsWith(".part")), "no half-written file");
        }

        // A new review (a dry run) shows them, and applies nothing.
        ScriptReview second = ScriptReview.start(work, "--dry-run");
        open(second.url());
        assertEquals("accept", decisionOf(ACCEPT_1));
        assertEquals("accept", decisionOf(ACCEPT_2));
        assertEquals("reject", decisionOf(REJECT_1));
        assertEquals("21", count("left"));
        driver.findElement(By.id("done")).click();
        waiting().until(d -> !d.findElements(By.id("summary")).isEmpty());
        assertTrue(driver.findElement(By.id("summary")).getText().contains("Dry run: nothing was applied"));
        assertTrue(second.process().waitFor(60, TimeUnit.SECONDS), "the review ends with Done");
        assertEquals(0, second.process().exitValue());
        assertEquals(before, JsonFiles.readObject(work.resolve("data/identities.json")), "a dry run applies nothing");
        assertNoScriptErrors();
    }

    /** `./jbang steps/review.java --no-open` over the archive under {@code work}, as a process, once it serves its page. */
    record ScriptReview(Process process, URI url, StringBuffer output) {
        static ScriptReview start(Path work, String... extra) throws Exception {
            List<String> cmd = new ArrayList<>(List.of(KitProcess.root().resolve("jbang").toString(), "steps/review.java", "--no-open",
                    "--data-dir", work.resolve("data").toString(), "--photos-dir", work.resolve("raw_photos").toString(),
                    "--crops-dir", work.resolve("raw_photos/crops").toString()));
            cmd.addAll(List.of(extra));
            Process p = new ProcessBuilder(cmd).directory(KitProcess.root().toFile()).redirectErrorStream(true)
                    .redirectInput(ProcessBuilder.Redirect.PIPE).start();
            StringBuffer out = new StringBuffer();
            CompletableFuture<URI> url = new CompletableFuture<>();
            Thread reader = new Thread(() -> {
                try (BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                    var m = Pattern.compile("http://127\\.0\\.0\\.1:\\d+/[A-Za-z0-9_-]+/");
                    for (String line; (line = in.readLine()) != null; ) {
                        out.append(line).append('\n');
                        var hit = m.matcher(line);
                        if (hit.find()) url.complete(URI.create(hit.group()));
                    }
                } catch (java.io.IOException ignored) {
                }
                url.completeExceptionally(new AssertionError("the review printed no address:\n" + out));
            });
            reader.setDaemon(true);
            reader.start();
            return new ScriptReview(p, url.get(5, TimeUnit.MINUTES), out);
        }
    }

    static void screenshot(String name) throws Exception {
        Path shot = KitProcess.root().resolve("build").resolve(name);
        Files.createDirectories(shot.getParent());
        ((JavascriptExecutor) driver).executeScript("window.scrollTo(0, 0)");
        Files.write(shot, ((TakesScreenshot) driver).getScreenshotAs(OutputType.BYTES));
        BufferedImage png = ImageIO.read(shot.toFile());
        Set<Integer> colours = new HashSet<>();
        for (int y = 0; y < png.getHeight(); y += 7) for (int x = 0; x < png.getWidth(); x += 7) colours.add(png.getRGB(x, y));
        assertTrue(colours.size() > 50, "the screenshot shows a rendered page (" + colours.size() + " colours)");
    }
}
