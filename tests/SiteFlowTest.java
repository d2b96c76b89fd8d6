import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Steps 2, 6 and 7 against the kit's local stand-in of the production site, over real HTTP. */
class SiteFlowTest {
    static final String TOKEN = "flow-test-token";
    static final Path LEGACY = ArchiveFilesTest.FIXTURE;

    @TempDir Path tmp;
    Path siteRoot, dest, dataDir;
    local_site.Running site;
    SyncClient client;

    @BeforeEach
    void start() throws Exception {
        siteRoot = Files.createDirectories(tmp.resolve("site"));
        dest = tmp.resolve("pending");
        dataDir = Files.createDirectories(tmp.resolve("data"));
        site = local_site.start(siteRoot, 0, TOKEN);
        client = new SyncClient(site.url(), TOKEN, SyncClient.Settings.defaults());
    }

    @AfterEach
    void stop() {
        site.close();
    }

    static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    static String sha256(byte[] b) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    }

    @Test
    void sameNamesInTwoJobsUnicodeAndA40MbFileAllArriveIntactInTheirJobFolders() throws Exception {
        String odd = "Ḥayyim & Béatrice #2 100% ?'\".jpg";
        Map<String, byte[]> job1 = new LinkedHashMap<>();
        job1.put("IMG_0001.jpg", random(150_000, 1));
        job1.put(odd, random(20_000, 2));
        job1.put("scan_40MB.tif", random(40 * 1024 * 1024, 3));
        Map<String, byte[]> job2 = new LinkedHashMap<>();
        job2.put("IMG_0001.jpg", random(170_000, 4));
        local_site.stageUpload(siteRoot, "a1b2c3d4", "Vida Capeluto NYC Collection", "Capeluto family", job1);
        local_site.stageUpload(siteRoot, "e5f6a7b8", "Rhodes 1930s", "Rhodes school", job2);

        TestConsole tc = new TestConsole();
        download_staged.Result r = download_staged.run(client, dest, false, false, tc.console);
        assertEquals(0, r.failures(), tc.text());
        for (var e : job1.entrySet()) {
            Path local = dest.resolve("a1b2c3d4").resolve(e.getKey().replace(' ', '_'));
            assertEquals(sha256(e.getValue()), sha256(Files.readAllBytes(local)), local.toString());
        }
        assertEquals(sha256(job2.get("IMG_0001.jpg")), sha256(Files.readAllBytes(dest.resolve("e5f6a7b8/IMG_0001.jpg"))));
        assertEquals("Vida Capeluto NYC Collection", JsonFiles.read(dest.resolve("a1b2c3d4/_metadata.json")).get("source").asText());
        assertEquals("Rhodes school", JsonFiles.read(dest.resolve("e5f6a7b8/_metadata.json")).get("collection").asText());
        assertTrue(tc.text().contains("source: Vida Capeluto NYC Collection | collection: Capeluto family"), tc.text());

        // a second run finds everything in place and downloads nothing
        TestConsole again = new TestConsole();
        download_staged.Result r2 = download_staged.run(client, dest, false, false, again.console);
        assertEquals(0, r2.summary().get("downloaded").asInt());
        assertEquals(6, r2.summary().get("already_present").asInt());
    }

    @Test
    void dryRunListsAndChangesNothing() throws Exception {
        local_site.stageUpload(siteRoot, "a1b2c3d4", "S", "C", Map.of("IMG_0001.jpg", random(1000, 1)));
        TestConsole tc = new TestConsole();
        download_staged.Result r = download_staged.run(client, dest, true, true, tc.console);
        assertFalse(Files.exists(dest), "a dry run creates nothing locally");
        assertTrue(Files.exists(siteRoot.resolve("staging/a1b2c3d4/IMG_0001.jpg")), "a dry run clears nothing");
        assertEquals(2, r.summary().get("jobs").get(0).get("to_download").asInt(), "the photo and the job's _metadata.json");
        assertEquals("[]", r.summary().get("would_clear").toString(), "nothing is local yet, so nothing would be cleared");
    }

    @Test
    void clearAfterClearsOnlyJobsWhoseEveryFileArrivedAndMarksExactlyThoseProcessed() throws Exception {
        local_site.stageUpload(siteRoot, "a1b2c3d4", "S1", "C1", Map.of("IMG_0001.jpg", random(1000, 1), "IMG_0002.jpg", random(2000, 2)));
        local_site.stageUpload(siteRoot, "e5f6a7b8", "S2", "C2", Map.of("IMG_0001.jpg", random(3000, 3), "IMG_0009.jpg", random(4000, 4)));
        Files.createDirectories(siteRoot.resolve("staging/back_images"));
        Files.write(siteRoot.resolve("staging/back_images/back1.jpg"), random(500, 5));
        // a local disk problem for one file of the second job: a folder sits where the file must go
        Files.createDirectories(dest.resolve("e5f6a7b8/IMG_0009.jpg"));

        TestConsole tc = new TestConsole();
        download_staged.Result r = download_staged.run(client, dest, false, true, tc.console);
        assertEquals(1, r.failures(), tc.text());
        assertEquals("[\"a1b2c3d4\"]", r.summary().get("cleared").toString(), tc.text());
        assertFalse(Files.exists(siteRoot.resolve("staging/a1b2c3d4")), "the complete job is cleared");
        assertTrue(Files.exists(siteRoot.resolve("staging/e5f6a7b8/IMG_0001.jpg")), "the incomplete job stays staged, whole");
        assertTrue(Files.exists(siteRoot.resolve("staging/back_images/back1.jpg")), "backs of photos are not an upload job: never cleared");
        JsonNode uploads = JsonFiles.read(siteRoot.resolve("pending_uploads.json")).get("uploads");
        assertEquals("processed", uploads.get("a1b2c3d4").get("status").asText());
        assertEquals("staged", uploads.get("e5f6a7b8").get("status").asText());
        assertTrue(tc.text().contains("not clearing e5f6a7b8: not every file is present locally"), tc.text());
        assertTrue(tc.text().contains("cannot write " + dest.resolve("e5f6a7b8/IMG_0009.jpg") + ": Is a directory"), "a disk problem is named, not retried: " + tc.text());
    }

    /** Step 6 on this test's archive (tmp/data) against the local site. */
    KitContext pushContext(TestConsole tc, KitContext.Mode mode) {
        return TestContext.under(tmp, Map.of("RHODESLI_SITE_URL", site.url(), "RHODESLI_SYNC_TOKEN", TOKEN), tc.console, mode);
    }

    void seedProductionAndLocal() throws Exception {
        for (String n : ArchiveFiles.NAMES) {
            Files.copy(LEGACY.resolve(n), siteRoot.resolve(n));
            Files.copy(LEGACY.resolve(n), dataDir.resolve(n));
        }
    }

    @Test
    void pushMergesWithProductionPushesAndVerifies() throws Exception {
        seedProductionAndLocal();
        // an admin renames someone on the site ...
        ObjectNode prod = JsonFiles.readObject(siteRoot.resolve("identities.json"));
        String renamed = prod.get("identities").fieldNames().next();
        ((ObjectNode) prod.get("identities").get(renamed)).put("name", "Named On The Site");
        JsonFiles.write(siteRoot.resolve("identities.json"), prod);
        // ... while the kit adds a new identity locally
        ObjectNode local = new ArchiveFiles(dataDir).readIdentities();
        ObjectNode added = ((ObjectNode) local.get("identities")).putObject("new-identity");
        added.put("identity_id", "new-identity").put("name", "Unidentified Person 999").put("state", "INBOX");
        added.putArray("anchor_ids");
        new ArchiveFiles(dataDir).writeIdentities(local);

        TestConsole tc = new TestConsole();
        PushStep.Result r = StepRunner.run(new PushStep(), pushContext(tc, KitContext.Mode.APPLY)).result();
        assertTrue(r.pushed() && r.verified() && r.failures().isEmpty(), tc.text());
        assertEquals(1, r.report().identities().newLocal());
        assertEquals(1, r.report().identities().keptProduction());
        JsonNode onSite = JsonFiles.read(siteRoot.resolve("identities.json"));
        assertEquals("Named On The Site", onSite.at("/identities/" + renamed + "/name").asText(), "the admin's rename survives");
        assertTrue(onSite.get("identities").has("new-identity"));
        assertTrue(onSite.get("history").size() > 0, "history survives the push");
        assertEquals("Named On The Site", new ArchiveFiles(dataDir).readIdentities().at("/identities/" + renamed + "/name").asText(), "merged result written locally");
        assertEquals(1, new Backups(dataDir).list().size(), "local files backed up before being rewritten");
        try (var s = Files.list(siteRoot)) {
            assertTrue(s.anyMatch(p -> p.getFileName().toString().startsWith("identities.json.bak.")), "the site kept its own .bak copy");
        }
    }

    @Test
    void dryRunPushChangesNothingAnywhere() throws Exception {
        seedProductionAndLocal();
        byte[] siteBefore = Files.readAllBytes(siteRoot.resolve("identities.json"));
        byte[] localBefore = Files.readAllBytes(dataDir.resolve("identities.json"));
        TestConsole tc = new TestConsole();
        var outcome = StepRunner.run(new PushStep(), pushContext(tc, KitContext.Mode.DRY_RUN));
        assertNull(outcome.result(), "a dry run never applies");
        assertTrue(outcome.plan().nothingToDo(), "local and production hold the same data");
        assertArrayEquals(siteBefore, Files.readAllBytes(siteRoot.resolve("identities.json")));
        assertArrayEquals(localBefore, Files.readAllBytes(dataDir.resolve("identities.json")));
        assertFalse(Files.exists(dataDir.resolve("backups")));
        assertTrue(tc.text().contains("Dry run: nothing was changed"), tc.text());
        assertTrue(tc.text().contains("holds 49 identities and 81 photos"), tc.text());
    }

    @Test
    void pushWithTheSiteDownChangesNothing() throws Exception {
        seedProductionAndLocal();
        byte[] before = Files.readAllBytes(dataDir.resolve("identities.json"));
        site.close();
        PushStep quick = new PushStep(new PushStep.Options(3, new SyncClient.Settings(java.time.Duration.ofSeconds(1),
                java.time.Duration.ofSeconds(2), java.time.Duration.ofSeconds(2), 2, java.time.Duration.ofMillis(10), java.time.Duration.ofMillis(20))));
        KitException e = assertThrows(KitException.class, () -> StepRunner.run(quick, pushContext(new TestConsole(), KitContext.Mode.APPLY)));
        assertTrue(e.getMessage().startsWith("refusing to push: could not fetch production's copy"), e.getMessage());
        assertArrayEquals(before, Files.readAllBytes(dataDir.resolve("identities.json")));
        assertFalse(Files.exists(dataDir.resolve("backups")));
        site = local_site.start(siteRoot, 0, TOKEN); // for @AfterEach
    }

    @Test
    void pushRefusesABrokenLocalArchive() throws Exception {
        seedProductionAndLocal();
        ObjectNode ids = new ArchiveFiles(dataDir).readIdentities();
        ((ObjectNode) ids.get("identities").elements().next()).putArray("candidate_ids").add("never-registered-face");
        new ArchiveFiles(dataDir).writeIdentities(ids);
        byte[] siteBefore = Files.readAllBytes(siteRoot.resolve("identities.json"));
        TestConsole tc = new TestConsole();
        KitException e = assertThrows(KitException.class, () -> StepRunner.run(new PushStep(), pushContext(tc, KitContext.Mode.APPLY)));
        assertTrue(e.getMessage().contains("fails its integrity check"), e.getMessage());
        assertTrue(e.getMessage().contains("never-registered-face"), e.getMessage());
        assertArrayEquals(siteBefore, Files.readAllBytes(siteRoot.resolve("identities.json")));
    }

    @Test
    void cliWithAWrongTokenExitsOneWithTheFixAndNeverShowsTheToken() throws Exception {
        local_site.stageUpload(siteRoot, "a1b2c3d4", "S", "C", Map.of("IMG_0001.jpg", random(100, 1)));
        Map<String, String> env = Map.of("RHODESLI_SITE_URL", site.url(), "RHODESLI_SYNC_TOKEN", "wrong-secret-value", "KIT_ROOT", tmp.toString());
        KitProcess.Result r = KitProcess.run(env, null, KitProcess.root().resolve("steps/download_staged.java").toString(), "--dest", dest.toString());
        assertEquals(1, r.exitCode(), r.all());
        assertTrue(r.stderr().contains("Unauthorized") && r.stderr().contains("check RHODESLI_SYNC_TOKEN in .env"), r.stderr());
        assertFalse(r.all().contains("wrong-secret-value"));
        assertFalse(r.all().contains("Exception"), "no stack trace: " + r.all());

        KitProcess.Result ok = KitProcess.run(Map.of("RHODESLI_SITE_URL", site.url(), "RHODESLI_SYNC_TOKEN", TOKEN, "KIT_ROOT", tmp.toString()), null,
                KitProcess.root().resolve("steps/download_staged.java").toString(), "--dest", dest.toString(), "--json");
        assertEquals(0, ok.exitCode(), ok.all());
        assertEquals(2, JsonFiles.parse(ok.stdout(), "stdout").get("downloaded").asInt(), "stdout holds only the JSON summary");

        KitProcess.Result missing = KitProcess.run(Map.of("KIT_ROOT", tmp.toString(), "RHODESLI_SITE_URL", "", "RHODESLI_SYNC_TOKEN", ""), null,
                KitProcess.root().resolve("steps/push_to_production.java").toString(), "--data-dir", dataDir.toString());
        assertEquals(1, missing.exitCode());
        assertTrue(missing.stderr().contains("needs RHODESLI_SYNC_TOKEN, RHODESLI_SITE_URL (not set)"), missing.stderr());
    }

    @Test
    void aNameTheSiteRefusesToServeFailsThatFileOnlyAndIsNotRetried() throws Exception {
        local_site.stageUpload(siteRoot, "a1b2c3d4", "S", "C", Map.of("IMG..0001.jpg", random(100, 1), "IMG_0002.jpg", random(200, 2)));
        TestConsole tc = new TestConsole();
        download_staged.Result r = download_staged.run(client, dest, false, true, tc.console);
        assertEquals(1, r.failures(), tc.text());
        assertTrue(tc.text().contains("the site refuses to serve staged file a1b2c3d4/IMG..0001.jpg (400"), tc.text());
        assertTrue(Files.exists(dest.resolve("a1b2c3d4/IMG_0002.jpg")));
        assertEquals("[]", r.summary().get("cleared").toString(), "a job with a missing file is never cleared");
        assertTrue(Files.exists(siteRoot.resolve("staging/a1b2c3d4/IMG_0002.jpg")));
    }

    @Test
    void theClientNeverAsksToClearAnEmptyPath() {
        assertThrows(IllegalArgumentException.class, () -> client.clearStaged(java.util.List.of("")));
        assertThrows(IllegalArgumentException.class, () -> client.clearStaged(java.util.List.of(".")));
    }
}
