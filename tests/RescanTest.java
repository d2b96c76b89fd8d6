import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * The rescan (issue 14 item 3) on a real photo: a mosaic of the eval faces at 20-90 px is
 * ingested with today's detector, then its record is trimmed to the faces of 40 px and more —
 * the archive as the earlier pipeline left it — and the rescan must find exactly the faces taken
 * out, change nothing that was there, add nothing the second time, change nothing in a dry run,
 * and fetch from a real S3 store (S3Proxy) a photo that is not on this computer.
 */
class RescanTest {
    static final float LARGE = 40;
    static Path template;
    static String photoId;
    static List<TrimmedArchive.Removed> removed;
    static byte[] photoBytes;

    @BeforeAll
    static void archiveWithOnlyTheLargeFaces() throws Exception {
        FaceModelsTest.assumeEval();
        FaceModels models = FaceModelsTest.models();
        template = Files.createTempDirectory("rescan-test");
        FaceMosaic.Mosaic mosaic = FaceMosaic.make(FaceModelsTest.EVAL, models.detector, 12, 20, 90).get(0);
        Path upload = Files.createDirectories(template.resolve("pending/job-a"));
        photoBytes = Photos.encodeJpeg(mosaic.image(), 0.95f);
        Files.write(upload.resolve("mosaic.jpg"), photoBytes);
        TestConsole out = new TestConsole();
        IngestStep.JobResult r = IngestTest.ingest(template, upload, "job-a", out.console);
        assertEquals(1, r.added().size(), out.text());
        photoId = r.added().get(0).photoId();
        int found = r.added().get(0).faces().size();
        assertTrue(found >= 11, "today's detector finds the mosaic's faces: " + found + " of 12");
        removed = TrimmedArchive.trim(Layout.under(template, FaceModelsTest.MODELS), photoId, LARGE);
        assertTrue(removed.size() >= 3 && removed.size() < found, removed.size() + " small faces taken out of " + found);
    }

    @AfterAll
    static void cleanUp() throws Exception {
        if (template != null) deleteTree(template);
    }

    static Path copyOfTemplate(Path dir) throws Exception {
        Path work = dir.resolve("archive");
        try (var s = Files.walk(template)) {
            for (Path p : s.toList()) {
                Path t = work.resolve(template.relativize(p).toString());
                if (Files.isDirectory(p)) Files.createDirectories(t);
                else Files.copy(p, t);
            }
        }
        return work;
    }

    static void deleteTree(Path p) throws Exception {
        try (var s = Files.walk(p)) {
            for (Path f : s.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(f);
        }
    }

    static RescanStep step(RescanStep.Options o) throws Exception {
        return new RescanStep(o, FaceModelsTest.models());
    }

    @Test
    void addsExactlyTheMissingFacesChangesNothingElseAndASecondRunAddsNothing(@TempDir Path dir) throws Exception {
        Path work = copyOfTemplate(dir);
        Path data = work.resolve("data");
        ObjectNode indexBefore = new ArchiveFiles(data).readPhotoIndex();
        ObjectNode idsBefore = new ArchiveFiles(data).readIdentities();
        EmbeddingStore storeBefore = EmbeddingStore.open(data);
        Map<String, byte[]> cropsBefore = TrimmedArchive.snapshot(work.resolve("raw_photos/crops"));

        TestConsole out = new TestConsole();
        StepRunner.Outcome<RescanStep.Plan, RescanStep.Result> o =
                StepRunner.run(step(RescanStep.Options.all().withPhotos(List.of(photoId))), TestContext.under(work, out.console));
        assertTrue(o.result().failures().isEmpty(), out.text());
        assertNotNull(o.result().backup(), "a backup comes first");
        List<String> added = o.result().photos().get(0).faceIds();

        // exactly the faces taken out: as many, each box matched one to one (IoU >= 0.5)
        EmbeddingStore store = EmbeddingStore.open(data);
        assertEquals(removed.size(), added.size(), out.text());
        boolean[] used = new boolean[added.size()];
        for (TrimmedArchive.Removed r : removed) {
            int best = -1;
            for (int i = 0; i < added.size(); i++) {
                if (!used[i] && FaceDetector.iou(r.box(), store.get(added.get(i)).bbox()) >= 0.5) best = i;
            }
            assertTrue(best >= 0, "the face taken out at " + Arrays.toString(r.box()) + " is found again");
            used[best] = true;
        }

        // every existing id, box, vector, entry and identity is as it was
        ObjectNode index = new ArchiveFiles(data).readPhotoIndex();
        ObjectNode identities = new ArchiveFiles(data).readIdentities();
        JsonNode entryBefore = indexBefore.get("photos").get(photoId), entry = index.get("photos").get(photoId);
        for (var it = entryBefore.fields(); it.hasNext(); ) {
            var e = it.next();
            if (!e.getKey().equals("face_ids")) assertEquals(e.getValue(), entry.get(e.getKey()), e.getKey() + " unchanged");
        }
        List<String> idsNow = new ArrayList<>();
        entry.get("face_ids").forEach(f -> idsNow.add(f.asText()));
        List<String> idsThen = new ArrayList<>();
        entryBefore.get("face_ids").forEach(f -> idsThen.add(f.asText()));
        assertEquals(idsThen, idsNow.subList(0, idsThen.size()), "stored face ids first, in their order");
        assertEquals(added, idsNow.subList(idsThen.size(), idsNow.size()), "the new ones appended");
        indexBefore.get("face_to_photo").fields().forEachRemaining(e -> assertEquals(e.getValue(), index.get("face_to_photo").get(e.getKey())));
        for (String id : added) {
            assertEquals(photoId, index.get("face_to_photo").get(id).asText());
            assertTrue(id.matches("inbox_[0-9a-f]{12}"), id);
            assertTrue(Files.size(work.resolve("raw_photos/crops/" + id + ".jpg")) > 300, "crop of " + id);
            assertEquals(FaceQuality.lowQuality(store.get(id).bbox()), store.get(id).bbox()[2] - store.get(id).bbox()[0] < 30);
        }
        for (EmbeddingStore.Face f : storeBefore.faces()) {
            EmbeddingStore.Face g = store.get(f.faceId());
            assertArrayEquals(f.bbox(), g.bbox(), f.faceId());
            assertArrayEquals(f.mu(), g.mu(), f.faceId());
            assertEquals(f.model(), g.model());
            assertEquals(storeBefore.metadata(f.faceId()), store.metadata(f.faceId()), "the store's record of " + f.faceId());
        }
        cropsBefore.forEach((k, v) -> assertArrayEquals(v, assertDoesNotThrow(() -> Files.readAllBytes(work.resolve("raw_photos/crops").resolve(k))), k));
        idsBefore.get("identities").fields().forEachRemaining(e ->
                assertEquals(e.getValue(), identities.get("identities").get(e.getKey()), "identity " + e.getKey() + " unchanged"));
        assertEquals(idsBefore.get("history"), identities.get("history"));

        // the new faces are in new INBOX identities, and nowhere else
        List<String> inNew = new ArrayList<>();
        for (InboxIdentities.Created c : o.result().identitiesCreated()) {
            JsonNode ident = identities.get("identities").get(c.identityId());
            assertEquals("INBOX", ident.get("state").asText());
            assertFalse(idsBefore.get("identities").has(c.identityId()));
            inNew.addAll(c.faceIds());
        }
        inNew.sort(null);
        List<String> sorted = new ArrayList<>(added);
        sorted.sort(null);
        assertEquals(sorted, inNew, "every new face in exactly one new identity");

        // again: nothing new, nothing written
        Map<String, byte[]> archiveAfter = TrimmedArchive.snapshot(data);
        TestConsole again = new TestConsole();
        RescanStep.Plan second = step(RescanStep.Options.all()).plan(TestContext.under(work, again.console));
        assertTrue(second.nothingToDo(), again.text());
        assertEquals(RescanStep.Status.NOTHING_NEW, second.photos().get(0).status());
        assertEquals(0, StepRunner.runScript(step(RescanStep.Options.all()), TestContext.under(work, again.console)), again.text());
        Map<String, byte[]> archiveThen = TrimmedArchive.snapshot(data);
        assertEquals(archiveAfter.keySet(), archiveThen.keySet(), "no backup, no new file the second time");
        archiveAfter.forEach((k, v) -> assertArrayEquals(v, archiveThen.get(k), k));
    }

    @Test
    void aDryRunListsThePerPhotoCountAndChangesNothing(@TempDir Path dir) throws Exception {
        Path work = copyOfTemplate(dir);
        Map<String, byte[]> before = TrimmedArchive.snapshot(work);
        KitProcess.Result r = KitProcess.run("steps/rescan.java", "--data-dir", work.resolve("data").toString(),
                "--photos-dir", work.resolve("raw_photos").toString(), "--crops-dir", work.resolve("raw_photos/crops").toString(),
                "--photo", photoId, "--dry-run");
        assertEquals(0, r.exitCode(), r.all());
        assertTrue(r.all().contains(photoId + " mosaic.jpg: " + removed.size() + " new faces"), r.all());
        assertTrue(r.all().contains("Dry run: nothing was changed"), r.all());
        Map<String, byte[]> after = TrimmedArchive.snapshot(work);
        assertEquals(before.keySet(), after.keySet(), "no file added or removed");
        before.forEach((k, v) -> assertArrayEquals(v, after.get(k), k + " unchanged"));
    }

    @Test
    void aPhotoNotHereIsFetchedFromTheBucketAndOneMissingEverywhereIsOneFailureLine(@TempDir Path dir) throws Exception {
        Path work = copyOfTemplate(dir);
        Path data = work.resolve("data");
        // the mosaic only in the bucket; a second photo nowhere at all
        Files.delete(work.resolve("raw_photos/mosaic.jpg"));
        ObjectNode index = new ArchiveFiles(data).readPhotoIndex();
        ObjectNode gone = ((ObjectNode) index.get("photos")).putObject("00000000deadbeef");
        gone.put("path", "gone.jpg");
        gone.putArray("face_ids");
        gone.put("width", 800);
        gone.put("height", 600);
        new ArchiveFiles(data).writePhotoIndex(index);

        try (local_r2.Running r2 = local_r2.start(dir.resolve("r2"), 0, "photos"); S3Client s3 = LocalR2Test.client(r2, r2.secretKey())) {
            s3.putObject(b -> b.bucket("photos").key("raw_photos/mosaic.jpg"), RequestBody.fromBytes(photoBytes));
            Map<String, String> env = new HashMap<>();
            env.put(KitConfig.R2_ENDPOINT_URL, r2.endpoint());
            env.put(KitConfig.R2_ACCESS_KEY_ID, r2.accessKey());
            env.put(KitConfig.R2_SECRET_ACCESS_KEY, r2.secretKey());
            env.put(KitConfig.R2_BUCKET_NAME, "photos");
            TestConsole out = new TestConsole();
            KitContext ctx = TestContext.under(work, env, out.console, KitContext.Mode.APPLY);
            StepRunner.Outcome<RescanStep.Plan, RescanStep.Result> o = StepRunner.run(step(RescanStep.Options.all()), ctx);

            assertEquals(1, o.result().failures().size(), out.text());
            String line = o.result().failures().get(0);
            assertTrue(line.contains("gone.jpg") && line.contains("00000000deadbeef") && line.contains("nor in the bucket"), line);
            assertTrue(line.contains("->"), "says what to do: " + line);
            assertTrue(o.failed(), "exit 1");
            assertEquals(1, o.result().photos().size());
            assertEquals(removed.size(), o.result().facesAdded(), out.text());
            assertTrue(o.plan().photos().stream().anyMatch(p -> p.fetched() && p.photoId().equals(photoId)));
            assertFalse(Files.exists(work.resolve("raw_photos/mosaic.jpg")), "the archive's photo folder is not filled by the rescan");
            assertFalse(Files.exists(RescanStep.cache(ctx.layout()).resolve("mosaic.jpg")), "the fetched copy is removed once its faces are in");
            for (String id : o.result().photos().get(0).faceIds()) assertTrue(Files.isRegularFile(work.resolve("raw_photos/crops/" + id + ".jpg")));
        }
    }

    @Test
    void aKilledRescanIsFinishedByTheNextWithTheSameFaceIds(@TempDir Path dir) throws Exception {
        Path work = copyOfTemplate(dir);
        Path data = work.resolve("data");
        int stored = new ArchiveFiles(data).readPhotoIndex().get("photos").get(photoId).get("face_ids").size();
        int storeBefore = EmbeddingStore.open(data).size();
        String[] args = {"--data-dir", data.toString(), "--photos-dir", work.resolve("raw_photos").toString(),
                "--crops-dir", work.resolve("raw_photos/crops").toString(), "--photo", photoId};

        // killed with crops and vectors written, photo_index.json not yet; then killed right after it
        KitProcess.Result k1 = KitProcess.run(Map.of("KIT_CRASH_AT", "rescan.before-index"), null, "steps/rescan.java", args);
        assertEquals(137, k1.exitCode(), k1.all());
        assertEquals(stored, new ArchiveFiles(data).readPhotoIndex().get("photos").get(photoId).get("face_ids").size());
        KitProcess.Result k2 = KitProcess.run(Map.of("KIT_CRASH_AT", "rescan.photo"), null, "steps/rescan.java", args);
        assertEquals(137, k2.exitCode(), k2.all());
        ObjectNode index = new ArchiveFiles(data).readPhotoIndex();
        assertEquals(stored + removed.size(), index.get("photos").get(photoId).get("face_ids").size(), "committed before the kill");

        KitProcess.Result done = KitProcess.run(Map.of(), null, "steps/rescan.java", args[0], args[1], args[2], args[3], args[4], args[5],
                args[6], args[7], "--json");
        assertEquals(0, done.exitCode(), done.all());
        JsonNode out = JsonFiles.parse(done.stdout(), "rescan --json");
        assertEquals(removed.size(), out.path("plan").path("orphan_face_ids").size(), done.stderr());
        assertEquals(0, out.path("result").path("faces_added").asInt(), "nothing added twice");

        List<String> expected = new ArrayList<>();
        for (int k = stored; k < stored + removed.size(); k++) expected.add(PhotoRegistration.faceId(RescanStep.RESCAN_JOB, "mosaic.jpg", k));
        List<String> ids = new ArrayList<>();
        new ArchiveFiles(data).readPhotoIndex().get("photos").get(photoId).get("face_ids").forEach(f -> ids.add(f.asText()));
        assertEquals(expected, ids.subList(stored, ids.size()), "the ids a run that was never killed gives");
        assertEquals(storeBefore + removed.size(), EmbeddingStore.open(data).size(), "no face has two rows");
        List<String> grouped = new ArrayList<>();
        out.path("result").path("identities_created").forEach(c -> c.path("face_ids").forEach(f -> grouped.add(f.asText())));
        grouped.sort(null);
        expected.sort(null);
        assertEquals(expected, grouped, "the faces committed before the kill are grouped into identities now");
    }

    @Test
    void aPhotoWhoseStoredFaceHasNoBoxOrWhoseFileIsDamagedIsSkippedNamed(@TempDir Path dir) throws Exception {
        Path work = copyOfTemplate(dir);
        Path data = work.resolve("data");
        // a second photo whose face id the store does not hold: its faces cannot be compared
        ObjectNode index = new ArchiveFiles(data).readPhotoIndex();
        ObjectNode other = ((ObjectNode) index.get("photos")).putObject("00000000facade00");
        other.put("path", "other.jpg");
        other.putArray("face_ids").add("other:face0");
        ((ObjectNode) index.get("face_to_photo")).put("other:face0", "00000000facade00");
        new ArchiveFiles(data).writePhotoIndex(index);
        Files.write(work.resolve("raw_photos/other.jpg"), photoBytes);
        // the mosaic damaged on disk
        Files.write(work.resolve("raw_photos/mosaic.jpg"), Arrays.copyOf(photoBytes, 2000));
        Map<String, byte[]> before = TrimmedArchive.snapshot(data);

        TestConsole out = new TestConsole();
        StepRunner.Outcome<RescanStep.Plan, RescanStep.Result> o = StepRunner.run(step(RescanStep.Options.all()), TestContext.under(work, out.console));
        assertEquals(2, o.result().failures().size(), out.text());
        String noBox = o.result().failures().stream().filter(f -> f.contains("other.jpg")).findFirst().orElseThrow();
        assertTrue(noBox.contains("other:face0") && noBox.contains("no box"), noBox);
        String damaged = o.result().failures().stream().filter(f -> f.contains("mosaic.jpg")).findFirst().orElseThrow();
        assertTrue(damaged.contains(photoId) && damaged.contains("->"), damaged);
        assertEquals(0, o.result().facesAdded());
        Map<String, byte[]> after = TrimmedArchive.snapshot(data);
        assertEquals(before.keySet(), after.keySet(), "nothing written, not even a backup");
        before.forEach((k, v) -> assertArrayEquals(v, after.get(k), k));
    }

    @Test
    void thePushMergeKeepsTheFacesARescanAddedToAPhotoEvenOneAnAdminEdited() {
        // local after a rescan: photo p gained face n1; production: p as before, and q's caption edited by an admin
        ObjectNode local = (ObjectNode) JsonFiles.parse("""
                {"schema_version": 1, "photos": {
                  "p": {"path": "p.jpg", "face_ids": ["p:face0", "inbox_aaaaaaaaaaaa"], "width": 10, "height": 10},
                  "q": {"path": "q.jpg", "face_ids": ["q:face0", "inbox_bbbbbbbbbbbb"], "source": "box", "width": 10, "height": 10}},
                 "face_to_photo": {"p:face0": "p", "inbox_aaaaaaaaaaaa": "p", "q:face0": "q", "inbox_bbbbbbbbbbbb": "q"}}""", "local");
        ObjectNode production = (ObjectNode) JsonFiles.parse("""
                {"schema_version": 1, "photos": {
                  "p": {"path": "p.jpg", "face_ids": ["p:face0"], "width": 10, "height": 10},
                  "q": {"path": "q.jpg", "face_ids": ["q:face0"], "source": "Aunt Rachel's box", "width": 10, "height": 10}},
                 "face_to_photo": {"p:face0": "p", "q:face0": "q"}}""", "production");
        ObjectNode identities = (ObjectNode) JsonFiles.parse("""
                {"schema_version": 1, "identities": {
                  "i1": {"identity_id": "i1", "name": "Unidentified Person 001", "state": "INBOX", "anchor_ids": ["inbox_aaaaaaaaaaaa"], "candidate_ids": []},
                  "i2": {"identity_id": "i2", "name": "Unidentified Person 002", "state": "INBOX", "anchor_ids": ["inbox_bbbbbbbbbbbb"], "candidate_ids": []}}}""",
                "identities");
        ObjectNode merged = ArchiveMerge.mergePhotoIndex(local, production).document();
        assertEquals(JsonFiles.parse("[\"p:face0\", \"inbox_aaaaaaaaaaaa\"]", "ids"), merged.get("photos").get("p").get("face_ids"));
        assertEquals(JsonFiles.parse("[\"q:face0\", \"inbox_bbbbbbbbbbbb\"]", "ids"), merged.get("photos").get("q").get("face_ids"));
        assertEquals("Aunt Rachel's box", merged.get("photos").get("q").get("source").asText(), "the admin's edit wins");
        assertEquals(List.of(), ArchiveIntegrity.problems(identities, merged), "the pushed documents agree with each other");
    }

    @Test
    void sinceSelectsByIngestedAtAndLeavesOutPhotosWithoutIt(@TempDir Path dir) throws Exception {
        Path work = copyOfTemplate(dir);
        Path data = work.resolve("data");
        ObjectNode index = new ArchiveFiles(data).readPhotoIndex();
        ((ObjectNode) index.get("photos")).putObject("00000000c0ffee00").put("path", "old pipeline.jpg").putArray("face_ids");
        new ArchiveFiles(data).writePhotoIndex(index);
        TestConsole out = new TestConsole();
        RescanStep.Plan p = step(RescanStep.Options.all().withSince(Instant.now().plus(1, ChronoUnit.DAYS)))
                .plan(TestContext.under(work, out.console));
        assertTrue(p.photos().isEmpty(), out.text());
        assertEquals(1, p.notSelected(), "the photo without ingested_at is counted as left out");
        assertTrue(p.nothingToDo());
    }
}
