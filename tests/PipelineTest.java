import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The one-command pipeline against the sandbox's real local site and S3 store, with real photos
 * and models: the three modes, a failed push, and runs killed at every step boundary and inside
 * steps 2, 3 and 5, then resumed.
 */
class PipelineTest {
    static final int SAMPLE_PHOTOS = 6;

    static ObjectNode runInProcess(sandbox.World w, process_uploads.Mode mode, String answers) throws Exception {
        return run(w.config, w, mode, new TestConsole(answers));
    }

    /** The pipeline in this JVM over the sandbox's archive, with these settings; its summary as the --json object. */
    static ObjectNode run(KitConfig config, sandbox.World w, process_uploads.Mode mode, TestConsole tc) throws Exception {
        KitContext ctx = new KitContext(config, w.layout(), tc.console, KitContext.Mode.APPLY);
        return JsonFiles.MAPPER.valueToTree(process_uploads.run(ctx, mode));
    }

    static List<String> stagedJobs(Path work) throws Exception {
        Path staging = work.resolve("site/staging");
        if (!Files.isDirectory(staging)) return List.of();
        try (Stream<Path> s = Files.list(staging)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    static Set<String> bucketKeys(Path work) throws Exception {
        Path bucket = work.resolve("r2/" + sandbox.BUCKET);
        Set<String> out = new HashSet<>();
        if (!Files.isDirectory(bucket)) return out;
        try (Stream<Path> s = Files.walk(bucket)) {
            s.filter(Files::isRegularFile).forEach(p -> out.add(bucket.relativize(p).toString().replace('\\', '/')));
        }
        return out;
    }

    /** Everything a finished, resumed or repeated run must leave: no loss, no duplicate, nothing half-done. */
    static void assertArchiveWholeAndSingle(Path work) throws Exception {
        Path data = work.resolve("data");
        ObjectNode ids = new ArchiveFiles(data).readIdentities(), index = new ArchiveFiles(data).readPhotoIndex();
        assertEquals(List.of(), ArchiveIntegrity.problems(ids, index));
        assertEquals(7 + SAMPLE_PHOTOS, ArchiveFiles.photoCount(index), "the seed's 7 photos and the 6 uploaded ones, once each");
        Set<String> faces = new HashSet<>();
        for (JsonNode p : index.get("photos")) for (JsonNode f : p.get("face_ids")) assertTrue(faces.add(f.asText()), "face listed twice: " + f);
        assertEquals(faces.size(), index.get("face_to_photo").size());
        Set<String> inIdentities = new HashSet<>();
        for (JsonNode i : ids.get("identities")) {
            if (i.hasNonNull("merged_into")) continue;
            for (String f : ArchiveMerge.faceIds(i)) assertTrue(inIdentities.add(f), "face in two identities: " + f);
        }
        assertEquals(faces, inIdentities, "every face belongs to exactly one identity");
        EmbeddingStore store = EmbeddingStore.open(data);
        Set<String> stored = new HashSet<>();
        for (EmbeddingStore.Face f : store.faces()) assertTrue(stored.add(f.faceId()), "embedding stored twice: " + f.faceId());
        assertEquals(faces, stored);
        Set<String> keys = bucketKeys(work);
        for (JsonNode p : index.get("photos")) {
            String path = p.get("path").asText();
            assertTrue(keys.contains("raw_photos/" + path.substring(path.lastIndexOf('/') + 1)), "photo not in R2: " + path);
        }
        for (String f : faces) assertTrue(keys.contains("crops/" + f + ".jpg"), "crop not in R2: " + f);
        JsonNode onSite = JsonFiles.read(work.resolve("site/identities.json"));
        assertTrue(JsonFiles.sameContent(ids, onSite), "the site holds the archive's identities");
        assertEquals(List.of(), stagedJobs(work), "both jobs cleared from staging");
        try (Stream<Path> s = Files.walk(work.resolve("raw_photos"))) {
            assertEquals(List.of(), s.filter(p -> p.getFileName().toString().endsWith(".part")).toList(), "no half-written file");
        }
    }

    @Test
    void autoModeRunsAllSevenStepsAndASecondRunFindsNothingToDo(@TempDir Path tmp) throws Exception {
        Path root = SandboxFixture.newRoot(tmp);
        try (sandbox.World w = sandbox.start(root, false, new TestConsole().console)) {
            assertEquals(List.of("5a3d1c0e", "b7e2f419"), stagedJobs(w.work));
            ObjectNode s = runInProcess(w, process_uploads.Mode.AUTO, "y\n");
            assertEquals("complete", s.get("outcome").asText(), s.toString());
            assertEquals(SAMPLE_PHOTOS, s.get("photos_downloaded").asInt());
            assertTrue(s.get("faces_found").asInt() >= 20, s.toString());
            assertTrue(s.at("/proposals_by_label/VERY HIGH").asInt() >= 5, "the seeded people are found again: " + s);
            assertEquals("[\"5a3d1c0e\",\"b7e2f419\"]", s.get("jobs_cleared").toString());
            assertArchiveWholeAndSingle(w.work);
            JsonNode pending = JsonFiles.read(w.work.resolve("site/pending_uploads.json")).get("uploads");
            assertEquals("processed", pending.get("5a3d1c0e").get("status").asText());

            ObjectNode again = runInProcess(w, process_uploads.Mode.AUTO, "y\n");
            assertEquals("complete", again.get("outcome").asText());
            assertEquals(0, again.get("photos_downloaded").asInt());
            assertEquals(0, again.at("/uploaded/files_sent").asInt(), "nothing sent twice");
            assertArchiveWholeAndSingle(w.work);
        }
    }

    @Test
    void reviewAlwaysWaitsEvenWithAutoAndNoStopsCleanly(@TempDir Path tmp) throws Exception {
        Path root = SandboxFixture.newRoot(tmp);
        try (sandbox.World w = sandbox.start(root, false, new TestConsole().console)) {
            TestConsole tc = new TestConsole("");  // no answer at all: end of input is "no"
            ObjectNode s = run(w.config, w, process_uploads.Mode.AUTO, tc);
            assertEquals("stopped", s.get("outcome").asText());
            assertTrue(tc.text().contains("REVIEW: nothing has been merged or confirmed"), tc.text());
            assertTrue(tc.text().contains("data and its backups are safe") && tc.text().contains("To go on later: ./jbang process_uploads.java --auto"), tc.text());
            assertEquals(List.of("5a3d1c0e", "b7e2f419"), stagedJobs(w.work), "nothing cleared");
            assertEquals(Set.of(), bucketKeys(w.work), "nothing uploaded");
            assertTrue(Files.isRegularFile(Path.of(s.get("review_page").asText())));
            // the next run picks up the ingested jobs without ingesting again
            ObjectNode next = runInProcess(w, process_uploads.Mode.AUTO, "y\n");
            assertEquals("complete", next.get("outcome").asText());
            assertEquals(0, next.get("photos_added").asInt(), "already ingested by the stopped run");
            assertArchiveWholeAndSingle(w.work);
        }
    }

    @Test
    void interactiveNoAtUploadLeavesStagingAndTheBucketUntouched(@TempDir Path tmp) throws Exception {
        Path root = SandboxFixture.newRoot(tmp);
        try (sandbox.World w = sandbox.start(root, false, new TestConsole().console)) {
            ObjectNode s = runInProcess(w, process_uploads.Mode.INTERACTIVE, "y\nn\n");
            assertEquals("stopped", s.get("outcome").asText());
            assertEquals(List.of("5a3d1c0e", "b7e2f419"), stagedJobs(w.work));
            assertEquals(Set.of(), bucketKeys(w.work));
        }
    }

    @Test
    void dryRunRunsStepsOneToFourAndChangesNothingOnTheSiteOrInR2(@TempDir Path tmp) throws Exception {
        Path root = SandboxFixture.newRoot(tmp);
        try (sandbox.World w = sandbox.start(root, false, new TestConsole().console)) {
            byte[] siteIds = Files.readAllBytes(w.work.resolve("site/identities.json"));
            ObjectNode s = runInProcess(w, process_uploads.Mode.DRY_RUN, "");
            assertEquals("dry-run", s.get("outcome").asText(), s.toString());
            assertEquals(SAMPLE_PHOTOS, s.get("photos_added").asInt());
            assertTrue(Files.isRegularFile(Path.of(s.get("review_page").asText())));
            assertArrayEquals(siteIds, Files.readAllBytes(w.work.resolve("site/identities.json")));
            assertEquals(List.of("5a3d1c0e", "b7e2f419"), stagedJobs(w.work));
            assertEquals(Set.of(), bucketKeys(w.work));
        }
    }

    @Test
    void aFailedPushLeavesStagingUntouchedAndTheNextRunFinishes(@TempDir Path tmp) throws Exception {
        Path root = SandboxFixture.newRoot(tmp);
        try (sandbox.World w = sandbox.start(root, false, new TestConsole().console);
             FaultySite proxy = new FaultySite(r -> r.path().equals("/api/sync/push") ? FaultySite.text(500, "push broke")
                     : FaultySite.relay(w.site.url(), r))) {
            java.util.Map<String, String> env = new java.util.HashMap<>();
            for (String v : List.of(KitConfig.SYNC_TOKEN, KitConfig.R2_ENDPOINT_URL, KitConfig.R2_ACCOUNT_ID, KitConfig.R2_ACCESS_KEY_ID,
                    KitConfig.R2_SECRET_ACCESS_KEY, KitConfig.R2_BUCKET_NAME)) env.put(v, w.config.get(v));
            env.put(KitConfig.SITE_URL, proxy.url());
            KitConfig viaProxy = KitConfig.load(root, env);
            TestConsole tc = new TestConsole("y\n");
            ObjectNode s = run(viaProxy, w, process_uploads.Mode.AUTO, tc);
            assertEquals("failed", s.get("outcome").asText(), tc.text());
            assertTrue(tc.text().contains("The push failed: staging was left as it is"), tc.text());
            assertEquals(List.of("5a3d1c0e", "b7e2f419"), stagedJobs(w.work), "a failed push never clears staging");
            assertTrue(s.get("jobs_waiting").has("5a3d1c0e"), s.toString());

            ObjectNode next = runInProcess(w, process_uploads.Mode.AUTO, "y\n");
            assertEquals("complete", next.get("outcome").asText());
            assertArchiveWholeAndSingle(w.work);
        }
    }

    /** Kills the run (as kill -9 would) at each point in turn; each next run resumes and is killed at the next point. */
    static void crashChain(Path tmp, List<String> points) throws Exception {
        Path root = SandboxFixture.newRoot(tmp);
        for (String point : points) {
            KitProcess.Result r = SandboxFixture.runPipeline(root, point, "y\n", "--auto");
            assertEquals(137, r.exitCode(), "expected a halt at " + point + ":\n" + r.all());
            assertTrue(r.stderr().contains("[crash test] halting at " + point.replaceAll(":\\d+$", "")), r.stderr());
        }
        KitProcess.Result last = SandboxFixture.runPipeline(root, null, "y\n", "--auto");
        assertEquals(0, last.exitCode(), last.all());
        JsonNode s = JsonFiles.parse(last.stdout(), "the last run's summary");
        assertEquals("complete", s.get("outcome").asText(), last.all());
        Path work = root.resolve("sandbox/work");
        assertArchiveWholeAndSingle(work);
        // the journals of all runs: every photo ingested once, across kills and resumes
        int added = 0;
        try (Stream<Path> runs = Files.list(work.resolve("data/runs"))) {
            for (Path run : runs.filter(Files::isDirectory).toList()) {
                added += JsonFiles.read(run.resolve("journal.json")).at("/steps/ingest/result/photos_added").asInt(0);
            }
        }
        assertTrue(added <= SAMPLE_PHOTOS, "photos ingested more than once: " + added);
    }

    @Test
    void killedAtEveryStepBoundaryAndResumedLosesAndDoublesNothing(@TempDir Path tmp) throws Exception {
        crashChain(tmp, List.of("after:backup", "after:download", "after:ingest", "after:cluster", "after:upload", "after:push"));
    }

    @Test
    void killedInsideDownloadIngestAndUploadAndResumedLosesAndDoublesNothing(@TempDir Path tmp) throws Exception {
        crashChain(tmp, List.of("download.file:2", "ingest.photo:2", "upload.object:5"));
    }

    @Test
    void dryRunJsonHoldsThePlansOfStepsFiveToSeven(@TempDir Path tmp) throws Exception {
        Path root = SandboxFixture.newRoot(tmp);
        KitProcess.Result r = SandboxFixture.runPipeline(root, null, "", "--dry-run");
        assertEquals(0, r.exitCode(), r.all());
        JsonNode s = JsonFiles.parse(r.stdout(), "the dry run's summary");
        assertEquals("dry-run", s.get("outcome").asText());
        JsonNode plans = s.get("plans");
        assertTrue(plans.has("upload") && plans.has("push") && plans.has("clear"), plans.toString());
        assertTrue(plans.at("/upload/counts/new").asInt() > 0 || plans.at("/upload/to_send").size() > 0, "the upload plan lists what would be sent: " + plans.get("upload"));
        assertTrue(plans.get("clear").toString().contains("5a3d1c0e"), "the clear plan names the jobs: " + plans.get("clear"));
        Path work = root.resolve("sandbox/work");
        assertEquals(List.of("5a3d1c0e", "b7e2f419"), stagedJobs(work), "nothing cleared");
        assertEquals(Set.of(), bucketKeys(work), "nothing uploaded");
    }

    @Test
    void downloadsThatFailMakeTheRunIncompleteWithTheJobsHeldAndExitOne(@TempDir Path tmp) throws Exception {
        Path root = SandboxFixture.newRoot(tmp);
        // raw_photos/pending cannot be a folder (a file stands there): every download fails, even for root
        Files.createDirectories(root.resolve("sandbox/work/raw_photos"));
        Files.writeString(root.resolve("sandbox/work/raw_photos/pending"), "not a folder");
        KitProcess.Result r = SandboxFixture.runPipeline(root, null, "y\n", "--auto");
        assertEquals(1, r.exitCode(), r.all());
        JsonNode s = JsonFiles.parse(r.stdout(), "the run's summary");
        assertEquals("incomplete", s.get("outcome").asText(), r.all());
        assertTrue(s.get("failures").size() > 0, s.toString());
        assertTrue(s.get("jobs_waiting").toString().contains("5a3d1c0e") || r.stderr().contains("5a3d1c0e"), r.all());
        assertEquals(List.of("5a3d1c0e", "b7e2f419"), stagedJobs(root.resolve("sandbox/work")), "nothing cleared");
    }
}
