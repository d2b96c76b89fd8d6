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
        dest = tmp.resolve("raw_photos/pending");
        dataDir = Files.createDirectories(tmp.resolve("data"));
        site = local_site.start(siteRoot, 0, TOKEN);
        client = new SyncClient(site.url(), TOKEN, SyncClient.Settings.defaults());
    }

    @AfterEach
    void stop() {
        site.close();
    }

    /** The archive under tmp (data/, raw_photos/pending/), pointed at the local site. */
    KitContext ctx(TestConsole tc, KitContext.Mode mode) {
        return TestContext.under(tmp, Map.of(KitConfig.SITE_URL, site.url(), KitConfig.SYNC_TOKEN, TOKEN), tc.console, mode);
    }

    DownloadStep.Result download(TestConsole tc) throws Exception {
        return StepRunner.run(new DownloadStep(), ctx(tc, KitContext.Mode.APPLY)).result();
    }

    ClearStep.Result clear(TestConsole tc) throws Exception {
        return StepRunner.run(new ClearStep(ClearStep.Options.standard()), ctx(tc, KitContext.Mode.APPLY)).result();
    }

    /** What ingest, upload and push record for a job once they have finished it. */
    void markInArchive(String... jobIds) throws Exception {
        JobLedger ledger = JobLedger.open(dataDir.resolve("runs"), KitContext.Mode.APPLY);
        for (JobLedger.Milestone m : java.util.List.of(JobLedger.Milestone.INGESTED, JobLedger.Milestone.UPLOADED, JobLedger.Milestone.PUSHED)) {
            ledger.mark(java.util.List.of(jobIds), m);
        }
    }

    String pendingStatus(String jobId) throws Exception {
        return JsonFiles.read(siteRoot.resolve("pending_uploads.json")).at("/uploads/" + jobId + "/status").asText();
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
        DownloadStep.Result r = download(tc);
        assertEquals(java.util.List.of(), r.failures(), tc.text());
        assertEquals(4, r.photosDownloaded(), "photos, not the jobs' _metadata.json");
        for (var e : job1.entrySet()) {
            Path local = dest.resolve("a1b2c3d4").resolve(e.getKey().replace(' ', '_'));
            assertEquals(sha256(e.getValue()), sha256(Files.readAllBytes(local)), local.toString());
        }
        assertEquals(sha256(job2.get("IMG_0001.jpg")), sha256(Files.readAllBytes(dest.resolve("e5f6a7b8/IMG_0001.jpg"))));
        assertEquals("Vida Capeluto NYC Collection", JsonFiles.read(dest.resolve("a1b2c3d4/_metadata.json")).get("source").asText());
        assertEquals("Rhodes school", JsonFiles.read(dest.resolve("e5f6a7b8/_metadata.json")).get("collection").asText());
        assertTrue(tc.text().contains("source: Vida Capeluto NYC Collection | collection: Capeluto family"), tc.text());
        JobLedger ledger = JobLedger.open(dataDir.resolve("runs"), KitContext.Mode.DRY_RUN);
        assertTrue(ledger.reached("a1b2c3d4", JobLedger.Milestone.DOWNLOADED) && ledger.reached("e5f6a7b8", JobLedger.Milestone.DOWNLOADED));
        assertEquals(4, ledger.job("a1b2c3d4").files().size(), "three photos and _metadata.json, with their sizes");

        // a second run finds everything in place and downloads nothing
        TestConsole again = new TestConsole();
        DownloadStep.Result r2 = download(again);
        assertEquals(0, r2.filesDownloaded());
        assertEquals(0, r2.photosDownloaded());
        assertEquals(6, r2.alreadyPresent());
    }

    @Test
    void dryRunListsAndChangesNothing() throws Exception {
        local_site.stageUpload(siteRoot, "a1b2c3d4", "S", "C", Map.of("IMG_0001.jpg", random(1000, 1)));
        TestConsole tc = new TestConsole();
        KitContext dry = ctx(tc, KitContext.Mode.DRY_RUN);
        DownloadStep.Plan plan = StepRunner.run(new DownloadStep(), dry).plan();
        ClearStep.Plan clear = StepRunner.run(new ClearStep(ClearStep.Options.standard()), dry).plan();
        assertFalse(Files.exists(dest), "a dry run creates nothing locally");
        assertFalse(Files.exists(dataDir.resolve("runs")), "nor the job ledger");
        assertTrue(Files.exists(siteRoot.resolve("staging/a1b2c3d4/IMG_0001.jpg")), "a dry run clears nothing");
        assertEquals(2, plan.jobs().get(0).files().stream().filter(f -> f.action() == DownloadStep.Action.DOWNLOAD).count(),
                "the photo and the job's _metadata.json");
        assertEquals(java.util.List.of(), clear.toClear(), "nothing is downloaded yet, so nothing would be cleared");
        assertTrue(tc.text().contains("not clearing a1b2c3d4: it was never downloaded completely"), tc.text());
    }

    @Test
    void clearTakesOnlyJobsSafelyInTheArchiveAndMarksExactlyThoseProcessed() throws Exception {
        local_site.stageUpload(siteRoot, "a1b2c3d4", "S1", "C1", Map.of("IMG_0001.jpg", random(1000, 1), "IMG_0002.jpg", random(2000, 2)));
        local_site.stageUpload(siteRoot, "e5f6a7b8", "S2", "C2", Map.of("IMG_0001.jpg", random(3000, 3), "IMG_0009.jpg", random(4000, 4)));
        local_site.stageUpload(siteRoot, "0badc0de", "S3", "C3", Map.of("IMG_0001.jpg", random(3000, 5)));
        Files.createDirectories(siteRoot.resolve("staging/back_images"));
        Files.write(siteRoot.resolve("staging/back_images/back1.jpg"), random(500, 5));
        // a local disk problem for one file of the second job: a folder sits where the file must go
        Files.createDirectories(dest.resolve("e5f6a7b8/IMG_0009.jpg"));

        TestConsole tc = new TestConsole();
        DownloadStep.Result r = download(tc);
        assertEquals(1, r.failures().size(), tc.text());
        assertTrue(r.failures().get(0).contains("cannot write " + dest.resolve("e5f6a7b8/IMG_0009.jpg") + ": Is a directory"),
                "a disk problem is named, not retried: " + r.failures());
        // a1b2c3d4 and e5f6a7b8 went through ingest, upload and push; 0badc0de is only downloaded
        markInArchive("a1b2c3d4", "e5f6a7b8");

        TestConsole tcc = new TestConsole();
        ClearStep.Result c = clear(tcc);
        assertEquals(java.util.List.of("a1b2c3d4"), c.cleared(), tcc.text());
        assertEquals(java.util.List.of(), c.failures());
        assertFalse(Files.exists(siteRoot.resolve("staging/a1b2c3d4")), "the job safely in the archive is cleared");
        assertTrue(Files.exists(siteRoot.resolve("staging/e5f6a7b8/IMG_0001.jpg")), "the job with a file left on the site stays staged, whole");
        assertTrue(Files.exists(siteRoot.resolve("staging/0badc0de/IMG_0001.jpg")), "the job only downloaded stays staged");
        assertTrue(Files.exists(siteRoot.resolve("staging/back_images/back1.jpg")), "backs of photos are not an upload job: never cleared");
        assertEquals("processed", pendingStatus("a1b2c3d4"));
        assertEquals("staged", pendingStatus("e5f6a7b8"));
        assertEquals("staged", pendingStatus("0badc0de"));
        assertTrue(c.notCleared().get("e5f6a7b8").why().contains("1 of its files never reached the archive (e.g. e5f6a7b8/IMG_0009.jpg"), tcc.text());
        assertTrue(c.notCleared().get("0badc0de").why().contains("its faces are not in the archive (not ingested)"), tcc.text());
        assertEquals("./jbang ingest --directory raw_photos/pending/0badc0de --job-id 0badc0de", c.notCleared().get("0badc0de").next());
        assertTrue(c.notCleared().get("back_images").why().contains("not an upload job"), tcc.text());
        assertTrue(JobLedger.open(dataDir.resolve("runs"), KitContext.Mode.DRY_RUN).reached("a1b2c3d4", JobLedger.Milestone.CLEARED));
    }

    @Test
    void aClearTheSiteAlreadyCarriedOutSettles() throws Exception {
        // a clear killed right after the site removed the folder: the job is gone from staging,
        // still "staged" in pending_uploads.json, and not CLEARED in the ledger
        local_site.stageUpload(siteRoot, "a1b2c3d4", "S", "C", Map.of("IMG_0001.jpg", random(1000, 1)));
        download(new TestConsole());
        markInArchive("a1b2c3d4");
        local_site.stageUpload(siteRoot, "e5f6a7b8", "S", "C", Map.of("IMG_0001.jpg", random(1000, 2)));
        download(new TestConsole());
        markInArchive("e5f6a7b8");
        deleteTree(siteRoot.resolve("staging/a1b2c3d4"));

        TestConsole tc = new TestConsole();
        KitContext ctx = ctx(tc, KitContext.Mode.APPLY);
        ClearStep step = new ClearStep(ClearStep.Options.standard());
        ClearStep.Plan plan = step.plan(ctx);
        assertEquals(java.util.List.of("a1b2c3d4"), plan.toSettle());
        assertEquals(java.util.List.of("e5f6a7b8"), plan.toClear());
        // and the other one goes between the listing and the clear: the site answers "not found"
        deleteTree(siteRoot.resolve("staging/e5f6a7b8"));
        ClearStep.Result r = step.apply(plan, ctx);
        r.print(tc.console);
        assertEquals(java.util.List.of(), r.failures(), tc.text());
        assertEquals(java.util.Set.of("a1b2c3d4", "e5f6a7b8"), new java.util.HashSet<>(r.cleared()));
        assertEquals("processed", pendingStatus("a1b2c3d4"));
        assertEquals("processed", pendingStatus("e5f6a7b8"));
        assertFalse(tc.text().contains("could not clear"), tc.text());

        TestConsole again = new TestConsole();
        ClearStep.Result r2 = clear(again);
        assertEquals(java.util.List.of(), r2.cleared());
        assertTrue(r2.notCleared().isEmpty(), "nothing left to say about cleared jobs: " + again.text());
        assertTrue(again.text().contains("No job to clear from staging."), again.text());
    }

    static void deleteTree(Path p) throws Exception {
        try (var s = Files.walk(p)) {
            for (Path q : s.sorted(java.util.Comparator.reverseOrder()).toList()) Files.delete(q);
        }
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
        JsonNode json = JsonFiles.parse(ok.stdout(), "stdout");
        assertEquals(2, json.at("/result/files_downloaded").asInt(), "stdout holds only the JSON summary: " + ok.stdout());
        assertEquals(1, json.at("/result/photos_downloaded").asInt());

        KitProcess.Result missing = KitProcess.run(Map.of("KIT_ROOT", tmp.toString(), "RHODESLI_SITE_URL", "", "RHODESLI_SYNC_TOKEN", ""), null,
                KitProcess.root().resolve("steps/push_to_production.java").toString(), "--data-dir", dataDir.toString());
        assertEquals(1, missing.exitCode());
        assertTrue(missing.stderr().contains("needs RHODESLI_SYNC_TOKEN, RHODESLI_SITE_URL (not set)"), missing.stderr());
    }

    @Test
    void aNameTheSiteRefusesToServeFailsThatFileOnlyAndIsNotRetried() throws Exception {
        local_site.stageUpload(siteRoot, "a1b2c3d4", "S", "C", Map.of("IMG..0001.jpg", random(100, 1), "IMG_0002.jpg", random(200, 2)));
        TestConsole tc = new TestConsole();
        DownloadStep.Result r = download(tc);
        assertEquals(1, r.failures().size(), tc.text());
        assertTrue(r.failures().get(0).contains("the site refuses to serve staged file a1b2c3d4/IMG..0001.jpg (400"), r.failures().toString());
        assertTrue(Files.exists(dest.resolve("a1b2c3d4/IMG_0002.jpg")));
        markInArchive("a1b2c3d4");
        ClearStep.Result c = clear(new TestConsole());
        assertEquals(java.util.List.of(), c.cleared(), "a job with a missing file is never cleared");
        assertTrue(Files.exists(siteRoot.resolve("staging/a1b2c3d4/IMG_0002.jpg")));
    }

    @Test
    void theClientNeverAsksToClearAnEmptyPath() {
        assertThrows(IllegalArgumentException.class, () -> client.clearStaged(java.util.List.of("")));
        assertThrows(IllegalArgumentException.class, () -> client.clearStaged(java.util.List.of(".")));
    }
}
