import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The ingest step on a real folder: a real group photo, its duplicate under another name, a
 * damaged JPEG and a HEIC-named file; every file is accounted for and the batch goes on.
 * Real models, a temporary archive.
 */
class IngestTest {
    static final Path EVAL = FaceModelsTest.EVAL;

    /** Ingests {@code upload} as job {@code job} into the archive under {@code dir}, with the shared models. */
    static IngestStep.JobResult ingest(Path dir, Path upload, String job, Console console) throws Exception {
        IngestStep step = new IngestStep(IngestStep.Options.folders(List.of(new UploadFolder(job, upload))), FaceModelsTest.models());
        return StepRunner.run(step, TestContext.under(dir, console)).result().jobs().get(0);
    }

    @Test
    void aBatchWithBadFilesAndADuplicateGoesOnAndRegistersTheRealPhoto(@TempDir Path dir) throws Exception {
        Assumptions.assumeTrue(Files.isDirectory(EVAL), "../shared/eval is absent: this test needs its photos");
        Path upload = dir.resolve("pending/job-a");
        Files.createDirectories(upload.resolve("sub"));
        byte[] photo = Files.readAllBytes(EVAL.resolve("group-photos/bbt3.jpg"));
        Files.write(upload.resolve("bbt3.jpg"), photo);
        Files.write(upload.resolve("sub/copy of bbt3.jpg"), photo);                     // duplicate, other name
        Files.write(upload.resolve("broken.jpg"), Arrays.copyOf(photo, photo.length / 3)); // truncated
        Files.write(upload.resolve("IMG_0001.HEIC"), "\0\0\0\u0018ftypheic junk".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
        Files.writeString(upload.resolve("_metadata.json"), "{\"source\": \"Béatrice's box\", \"collection\": \"Family\"}");

        TestConsole out = new TestConsole();
        IngestStep.JobResult s = ingest(dir, upload, "job-a", out.console);

        assertEquals(1, s.added().size(), out.text());
        IngestStep.AddedPhoto p = s.added().get(0);
        assertEquals("bbt3.jpg", p.file());
        assertEquals(5, p.faces().size(), "the five people of bbt3");
        assertEquals(1, s.duplicates().size());
        assertEquals("sub/copy of bbt3.jpg", s.duplicates().get(0).file());
        assertEquals(2, s.errors().size());
        Set<String> failed = new HashSet<>();
        for (IngestStep.FileError e : s.errors()) {
            failed.add(e.file());
            assertTrue(e.message().contains(e.file()), "the message names the file: " + e);
        }
        assertEquals(Set.of("broken.jpg", "IMG_0001.HEIC"), failed);
        assertTrue(s.errors().toString().contains("HEIC"), "says it is a HEIC photo");
        assertFalse(s.ingested(), "a job with files that could not be added is not ingested");

        // the archive: photo kept, crops written, index and embeddings consistent, one identity per face
        String photoId = p.photoId();
        assertTrue(photoId.matches("[0-9a-f]{16}"));
        assertArrayEquals(photo, Files.readAllBytes(dir.resolve("raw_photos/bbt3.jpg")));
        ObjectNode index = new ArchiveFiles(dir.resolve("data")).readPhotoIndex();
        JsonNode entry = index.get("photos").get(photoId);
        assertEquals("bbt3.jpg", entry.get("path").asText());
        assertEquals(594, entry.get("width").asInt());
        assertEquals(383, entry.get("height").asInt());
        assertEquals("Béatrice's box", entry.get("source").asText());
        EmbeddingStore store = EmbeddingStore.open(dir.resolve("data"));
        assertEquals(5, store.size());
        for (IngestStep.AddedFace f : p.faces()) {
            String id = f.faceId();
            assertTrue(id.matches("inbox_[0-9a-f]{12}"), id);
            assertEquals(photoId, index.get("face_to_photo").get(id).asText());
            assertTrue(Files.size(dir.resolve("raw_photos/crops/" + id + ".jpg")) > 500);
            EmbeddingStore.Face face = store.get(id);
            assertEquals(FaceModelsTest.models().embeddingModel, face.model());
            double[] b = f.bbox();
            assertTrue(b[0] >= 0 && b[2] <= 594 && b[0] < b[2]);
            assertTrue(f.detScore() >= 0.9);
        }
        assertEquals(PhotoRegistration.faceId("job-a", "bbt3.jpg", 0), p.faces().get(0).faceId(),
                "face ids are sha256(job:filename:index) as in data-files.md");
        // five different people in one photo: never grouped together
        assertEquals(5, s.identitiesCreated().size());
        ObjectNode ids = new ArchiveFiles(dir.resolve("data")).readIdentities();
        for (InboxIdentities.Created i : s.identitiesCreated()) {
            JsonNode ident = ids.get("identities").get(i.identityId());
            assertEquals("INBOX", ident.get("state").asText());
            assertTrue(ident.get("name").asText().matches("Unidentified Person \\d{3}"));
            assertEquals("job-a", ident.get("provenance").get("job_id").asText());
        }

        // the same folder again: everything is a duplicate or the same error; nothing new
        IngestStep.JobResult again = ingest(dir, upload, "job-a", new TestConsole().console);
        assertEquals(0, again.added().size());
        assertEquals(2, again.duplicates().size());
        assertEquals(0, again.identitiesCreated().size());
        assertEquals(5, EmbeddingStore.open(dir.resolve("data")).size());
    }

    /** The pipeline's choice: every job the ledger shows downloaded and not yet ingested, each recorded as far as it got. */
    @Test
    void everyDownloadedJobIsIngestedAndOnlyCompleteJobsAreRecordedAsIngested(@TempDir Path dir) throws Exception {
        Assumptions.assumeTrue(Files.isDirectory(EVAL), "../shared/eval is absent: this test needs its photos");
        KitContext ctx = TestContext.under(dir, new TestConsole().console);
        Path pending = ctx.layout().pending();
        byte[] bbt4 = Files.readAllBytes(EVAL.resolve("group-photos/bbt4.jpg"));
        Files.createDirectories(pending.resolve("job-1"));
        Files.createDirectories(pending.resolve("job-2"));
        Files.createDirectories(pending.resolve("job-3"));
        Files.copy(EVAL.resolve("group-photos/bbt2.jpg"), pending.resolve("job-1/bbt2.jpg"));
        Files.copy(EVAL.resolve("group-photos/bbt3.jpg"), pending.resolve("job-2/bbt3.jpg"));
        Files.write(pending.resolve("job-2/broken.jpg"), Arrays.copyOf(bbt4, bbt4.length / 3));
        Files.write(pending.resolve("job-3/bbt4.jpg"), bbt4);
        JobLedger ledger = ctx.ledger();
        for (String job : List.of("job-1", "job-2", "job-3")) ledger.recordDownload(job, java.util.Map.of(), List.of());
        ledger.mark(List.of("job-3"), JobLedger.Milestone.INGESTED);

        IngestStep step = new IngestStep(IngestStep.Options.downloadedJobs(), FaceModelsTest.models());
        IngestStep.Plan plan = step.plan(ctx);
        assertEquals(List.of("job-1", "job-2"), plan.jobs().stream().map(IngestStep.JobPlan::jobId).toList(), "job-3 was ingested before");
        assertTrue(plan.jobs().get(0).willBeIngested());
        assertFalse(plan.jobs().get(1).willBeIngested(), "broken.jpg cannot be added");
        IngestStep.Result r = step.apply(plan, ctx);

        assertEquals(2, r.photosAdded());
        assertEquals(8, r.facesFound(), "3 + 5 faces");
        assertTrue(r.jobs().get(0).recorded());
        assertFalse(r.jobs().get(1).ingested());
        assertEquals(1, r.failures().size(), r.failures().toString());
        assertTrue(r.failures().get(0).startsWith("job job-2, broken.jpg: broken.jpg is damaged"), r.failures().get(0));
        JobLedger after = ctx.ledger();
        assertTrue(after.reached("job-1", JobLedger.Milestone.INGESTED));
        assertEquals(r.jobs().get(0).photoIds(), after.job("job-1").photoIds());
        assertFalse(after.reached("job-2", JobLedger.Milestone.INGESTED), "job-2 stays staged until broken.jpg is dealt with");

        // Next time only job-2 is planned; with nothing new it can add, there is nothing to do.
        IngestStep.Plan again = step.plan(ctx);
        assertEquals(List.of("job-2"), again.jobs().stream().map(IngestStep.JobPlan::jobId).toList());
        assertEquals(IngestStep.Action.DUPLICATE, again.jobs().get(0).photos().get(0).action());
        assertTrue(again.nothingToDo());
    }

    @Test
    void aTakenBasenameIsRenamedNeverOverwritten(@TempDir Path dir) throws Exception {
        Assumptions.assumeTrue(Files.isDirectory(EVAL), "../shared/eval is absent: this test needs its photos");
        Path a = dir.resolve("pending/a"), b = dir.resolve("pending/b");
        Files.createDirectories(a);
        Files.createDirectories(b);
        Files.copy(EVAL.resolve("group-photos/bbt2.jpg"), a.resolve("IMG_0001.jpg"));
        Files.copy(EVAL.resolve("group-photos/bbt3.jpg"), b.resolve("IMG_0001.jpg"));
        ingest(dir, a, "job-a", new TestConsole().console);
        IngestStep.JobResult s = ingest(dir, b, "job-b", new TestConsole().console);
        assertEquals("job-b_IMG_0001.jpg", s.added().get(0).keptAs());
        assertArrayEquals(Files.readAllBytes(a.resolve("IMG_0001.jpg")), Files.readAllBytes(dir.resolve("raw_photos/IMG_0001.jpg")));
        assertArrayEquals(Files.readAllBytes(b.resolve("IMG_0001.jpg")), Files.readAllBytes(dir.resolve("raw_photos/job-b_IMG_0001.jpg")));
    }

    @Test
    void boxesFoundOnATurnedPhotoMapBackToTheUprightPhoto() {
        // a 100x60 photo; turned 90 degrees clockwise it is 60x100
        float[] upright = {10, 5, 30, 25};
        // where that box lands after turning: (x,y) -> (60 - y, x)
        float[] turned = {60 - 25, 10, 60 - 5, 30};
        assertArrayEquals(upright, Photos.unturnBox(turned, 90, 100, 60), 1e-4f);
        float[] turned180 = {100 - 30, 60 - 25, 100 - 10, 60 - 5};
        assertArrayEquals(upright, Photos.unturnBox(turned180, 180, 100, 60), 1e-4f);
        float[] turned270 = {5, 100 - 30, 25, 100 - 10};
        assertArrayEquals(upright, Photos.unturnBox(turned270, 270, 100, 60), 1e-4f);
    }

    /** A JPEG with an EXIF block holding only an orientation tag (big-endian TIFF, one IFD entry). */
    static byte[] withOrientation(byte[] jpeg, int orientation) {
        byte[] tiff = {'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, (byte) orientation, 0, 0, 0, 0, 0, 0};
        byte[] exif = new byte[6 + tiff.length];
        System.arraycopy("Exif\0\0".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1), 0, exif, 0, 6);
        System.arraycopy(tiff, 0, exif, 6, tiff.length);
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        out.write(jpeg, 0, 2);                                   // SOI
        out.write(0xFF);
        out.write(0xE1);                                         // APP1
        out.write((exif.length + 2) >> 8);
        out.write((exif.length + 2) & 0xFF);
        out.write(exif, 0, exif.length);
        out.write(jpeg, 2, jpeg.length - 2);
        return out.toByteArray();
    }

    @Test
    void decodingAppliesExifOrientationAndHandlesGreyAlphaAnd16Bit() throws Exception {
        // a 40x20 picture: left half red, right half blue
        Photos.Image img = new Photos.Image(40, 20);
        for (int y = 0; y < 20; y++) for (int x = 0; x < 40; x++) img.bgr[(y * 40 + x) * 3 + (x < 20 ? 2 : 0)] = (byte) 255;
        byte[] jpeg = Photos.encodeJpeg(img, 0.95f);
        Photos.Decoded d = Photos.decode(withOrientation(jpeg, 6), "turned.jpg");
        assertEquals(6, d.exif().orientation());
        assertEquals(20, d.image().width, "orientation 6: shown turned 90 degrees clockwise");
        assertEquals(40, d.image().height);
        assertTrue(d.image().at(10, 5, 2) > 200, "red (the old left) is now on top");
        assertTrue(d.image().at(10, 35, 0) > 200, "blue at the bottom");

        // grey 16-bit PNG with a ramp, and an RGBA PNG that is fully transparent: white paper
        java.awt.image.BufferedImage g16 = new java.awt.image.BufferedImage(8, 8, java.awt.image.BufferedImage.TYPE_USHORT_GRAY);
        g16.getRaster().setSample(3, 3, 0, 65535);
        java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
        javax.imageio.ImageIO.write(g16, "png", b);
        Photos.Image grey = Photos.decode(b.toByteArray(), "grey16.png").image();
        assertEquals(255, grey.at(3, 3, 0));
        assertEquals(0, grey.at(0, 0, 1));
        java.awt.image.BufferedImage rgba = new java.awt.image.BufferedImage(4, 4, java.awt.image.BufferedImage.TYPE_INT_ARGB);
        b.reset();
        javax.imageio.ImageIO.write(rgba, "png", b);
        assertEquals(255, Photos.decode(b.toByteArray(), "alpha.png").image().at(1, 1, 1));
        // TIFF and BMP through the plugins
        for (String format : new String[] {"tiff", "bmp"}) {
            b.reset();
            assertTrue(javax.imageio.ImageIO.write(Photos.toBufferedImage(img), format, b), format + " writer present");
            Photos.Image back = Photos.decode(b.toByteArray(), "x." + format).image();
            assertEquals(40, back.width);
            assertTrue(back.at(5, 5, 2) > 200 && back.at(35, 5, 0) > 200, format);
        }
        KitException bad = assertThrows(KitException.class, () -> Photos.decode("not a photo".getBytes(), "notes.jpg"));
        assertTrue(bad.getMessage().startsWith("notes.jpg"), bad.getMessage());
    }

    @Test
    void aScanPutInSidewaysIsTurnedToFindItsFaces(@TempDir Path dir) throws Exception {
        Assumptions.assumeTrue(Files.isDirectory(EVAL), "../shared/eval is absent: this test needs its photos");
        Path upload = dir.resolve("pending/scan");
        Files.createDirectories(upload);
        // bbt3 (594x383, five people) turned a quarter counter-clockwise, as a scan put in sideways
        Photos.Image sideways = Photos.rotate(Photos.decode(EVAL.resolve("group-photos/bbt3.jpg")).image(), 270);
        Files.write(upload.resolve("scan.png"), Photos.encodePng(sideways));
        IngestStep.AddedPhoto p = ingest(dir, upload, "job-scan", new TestConsole().console).added().get(0);
        assertEquals(5, p.faces().size());
        JsonNode entry = new ArchiveFiles(dir.resolve("data")).readPhotoIndex().get("photos").get(p.photoId());
        assertEquals(90, entry.get("faces_found_turned_degrees").asInt());
        assertEquals(383, entry.get("width").asInt(), "the file's own size");
        for (IngestStep.AddedFace f : p.faces()) {
            double[] b = f.bbox();
            assertTrue(b[2] <= 383 && b[3] <= 594, "box in the file's pixels: " + Arrays.toString(b));
            assertTrue(b[2] - b[0] > b[3] - b[1], "in the file the faces lie on their side (boxes wider than tall): " + Arrays.toString(b));
        }
    }

    /** dir/pending/JOB holding the named photos of eval/group-photos (the test is skipped without ../shared/eval). */
    static Path uploadOfGroupPhotos(Path dir, String job, String... photos) throws java.io.IOException {
        Assumptions.assumeTrue(Files.isDirectory(EVAL), "../shared/eval is absent: this test needs its photos");
        Path upload = dir.resolve("pending/" + job);
        Files.createDirectories(upload);
        for (String n : photos) Files.copy(EVAL.resolve("group-photos/" + n), upload.resolve(n));
        return upload;
    }

    @Test
    void reembedKeepsFaceIdsAndGivesTheSameVectorsWithTheSameModel(@TempDir Path dir) throws Exception {
        Path upload = uploadOfGroupPhotos(dir, "r", "bbt2.jpg");
        ingest(dir, upload, "job-r", new TestConsole().console);
        java.util.List<EmbeddingStore.Face> before = EmbeddingStore.open(dir.resolve("data")).faces();
        ObjectNode s = reembed.run(TestContext.under(dir, new TestConsole().console), java.util.Optional.of(FaceModelsTest.models()));
        assertEquals(before.size(), s.get("reembedded").asInt());
        assertEquals(0, s.get("kept_old").size());
        java.util.List<EmbeddingStore.Face> after = EmbeddingStore.open(dir.resolve("data")).faces();
        assertEquals(before.size(), after.size());
        for (int i = 0; i < before.size(); i++) {
            assertEquals(before.get(i).faceId(), after.get(i).faceId());
            assertTrue(FaceDistances.distance(before.get(i).mu(), after.get(i).mu()) < 1e-4);
        }
        assertTrue(Files.isDirectory(Path.of(s.get("backup").asText())), "the previous store was copied to data/backups");
        // a missing photo: its faces keep their old vectors, reported
        Files.delete(dir.resolve("raw_photos/bbt2.jpg"));
        ObjectNode s2 = reembed.run(TestContext.under(dir, new TestConsole().console), java.util.Optional.of(FaceModelsTest.models()));
        assertEquals(before.size(), s2.get("kept_old").size());
        assertTrue(s2.get("kept_old").get(0).get("problem").asText().contains("missing"));
    }

    /**
     * ONNX Runtime 1.29 keeps a device id and a database of usage events under the user's cache
     * folder (~/.cache/Microsoft/DeveloperTools/.onnxruntime) and tries to send them to Microsoft,
     * on Linux too. An ingest through ./jbang must do neither: the cache folder stays empty.
     */
    @Test
    void anIngestLeavesNoDeviceIdOrUsageEventsOfTheFaceModelsBehind(@TempDir Path dir) throws Exception {
        Path upload = uploadOfGroupPhotos(dir, "job-t", "bbt3.jpg");
        Path cache = dir.resolve("cache");
        Files.createDirectories(cache);
        KitProcess.Result r = KitProcess.run(java.util.Map.of("XDG_CACHE_HOME", cache.toString()), null, "steps/ingest_inbox.java",
                "--directory", upload.toString(), "--job-id", "job-t", "--data-dir", dir.resolve("data").toString(),
                "--photos-dir", dir.resolve("raw_photos").toString(), "--crops-dir", dir.resolve("raw_photos/crops").toString());
        assertEquals(0, r.exitCode(), r.all());
        assertEquals(5, new ArchiveFiles(dir.resolve("data")).readPhotoIndex().get("face_to_photo").size(), "the face models did run");
        try (var left = Files.walk(cache)) {
            assertEquals(List.of(cache), left.toList(), "nothing written under XDG_CACHE_HOME");
        }
    }

    @Test
    void aCrashLeavesTheArchiveAsBeforeThePhotoInProgressAndARerunFinishesTheJob(@TempDir Path dir) throws Exception {
        Path upload = uploadOfGroupPhotos(dir, "job-c", "bbt2.jpg", "bbt3.jpg", "bbt4.jpg");
        String[] args = {"--directory", upload.toString(), "--job-id", "job-c", "--data-dir", dir.resolve("data").toString(),
                "--photos-dir", dir.resolve("raw_photos").toString(), "--crops-dir", dir.resolve("raw_photos/crops").toString(), "--json"};
        // killed dead after the 2nd photo's crops and vectors, before its photo_index.json entry
        KitProcess.Result crashed = KitProcess.run(java.util.Map.of("KIT_CRASH_AT", "ingest.before-index:2"), null, "steps/ingest_inbox.java", args);
        assertEquals(137, crashed.exitCode(), crashed.all());
        ObjectNode index = new ArchiveFiles(dir.resolve("data")).readPhotoIndex();
        assertEquals(1, index.get("photos").size(), "only the photo committed before the crash");
        assertEquals(3, index.get("face_to_photo").size());
        assertFalse(Files.exists(dir.resolve("data/identities.json")), "identities come at the end");
        // killed again, this time with every photo in but before the grouping
        KitProcess.Result crashed2 = KitProcess.run(java.util.Map.of("KIT_CRASH_AT", "ingest.before-identities"), null, "steps/ingest_inbox.java", args);
        assertEquals(137, crashed2.exitCode(), crashed2.all());
        // the rerun: nothing ingested twice, every face ends in exactly one new identity
        KitProcess.Result done = KitProcess.run("steps/ingest_inbox.java", args);
        assertEquals(0, done.exitCode(), done.all());
        JsonNode s = JsonFiles.parse(done.stdout(), "ingest output");
        assertEquals(3, s.get("result").get("jobs").get(0).get("duplicates").size());
        index = new ArchiveFiles(dir.resolve("data")).readPhotoIndex();
        assertEquals(3, index.get("photos").size());
        assertEquals(14, index.get("face_to_photo").size(), "3 + 5 + 6 faces");
        EmbeddingStore store = EmbeddingStore.open(dir.resolve("data"));
        assertEquals(14, store.size(), "the vectors of the interrupted photo were replaced, not doubled");
        assertEquals(14, EmbeddingStoreTest.rowsOnDisk(dir.resolve("data")), "and on disk too: one row per face (issue 11 item 9a)");
        Set<String> inIdentities = new HashSet<>();
        for (JsonNode ident : new ArchiveFiles(dir.resolve("data")).readIdentities().get("identities")) {
            for (JsonNode a : ident.get("anchor_ids")) assertTrue(inIdentities.add(a.asText()), "a face in two identities: " + a);
        }
        Set<String> all = new HashSet<>();
        index.get("face_to_photo").fieldNames().forEachRemaining(all::add);
        assertEquals(all, inIdentities);
        try (var crops = Files.list(dir.resolve("raw_photos/crops"))) {
            assertEquals(14, crops.filter(p -> p.toString().endsWith(".jpg")).count(), "one crop per face, no leftovers");
        }
    }
}
