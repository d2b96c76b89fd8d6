import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.awt.Color;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * fetch-models --from-insightface, and the pre-flight rule for an archive of w600k_r50 faces
 * (lib/ModelCheck.java).
 *
 * <p>InsightFace's real buffalo_l files are not on this machine and no package reachable here
 * ships them, so a fake ~/.insightface/models/buffalo_l is built from tiny ONNX models with the
 * real files' signatures (tests/support/TinyScrfdModel, TinyArcFaceModel). Their bytes are not
 * the release's, so taking them needs --allow-other-hash; without it the hash check refuses them,
 * which is the path a wrong real file takes. The accept path of a file with the release's hash is
 * checked with a catalogue entry pinned to the tiny file's own hash.
 */
class FetchModelsTest {
    static final Path MODELS = FaceModelsTest.MODELS;

    /** A fake InsightFace buffalo_l folder under {@code home}, as InsightFace lays it out. */
    static Path buffaloL(Path home) throws Exception {
        Path dir = Files.createDirectories(home.resolve(".insightface/models/buffalo_l"));
        TinyScrfdModel.write(dir.resolve("det_10g.onnx"));
        TinyArcFaceModel.write(dir.resolve("w600k_r50.onnx"));
        Files.writeString(dir.resolve("genderage.onnx"), "not taken");  // buffalo_l's other files stay where they are
        return dir;
    }

    /** A models folder holding the default models and their models.json, with a calibrated w600k_r50 entry. */
    static Path defaultModels(Path dir) throws Exception {
        FaceModelsTest.models();  // the project's default models, fetched once
        Path m = Files.createDirectories(dir.resolve("models"));
        for (ModelCatalog.Known k : ModelCatalog.DEFAULTS) Files.copy(MODELS.resolve(k.file()), m.resolve(k.file()));
        FaceModelsTest.fetch(m, FetchModelsStep.Options.defaults());
        ObjectNode doc = JsonFiles.readObject(ModelCatalog.file(m));
        ObjectNode t = ModelCatalog.thresholdEntry(new double[] {0.7, 0.99, 1.1, 1.15, 1.2, 0.9}, "./jbang calibrate on the archive");
        t.put(ModelCatalog.CALIBRATED_BY, ModelCatalog.CALIBRATE);
        ((ObjectNode) doc.get("thresholds")).set("w600k_r50", t);
        JsonFiles.write(ModelCatalog.file(m), doc);
        return m;
    }

    static FetchModelsStep.Options insight(Path folder, InsightFaceFiles.OtherHash h) {
        FetchModelsStep.Options o = FetchModelsStep.Options.fromInsightFace(folder);
        return new FetchModelsStep.Options(o.source(), o.insightfaceFolder(), o.detector(), o.recognizer(), o.refetch(), h);
    }

    static StepRunner.Outcome<FetchModelsStep.Plan, FetchModelsStep.Result> run(Path models, FetchModelsStep.Options o, KitContext.Mode mode)
            throws Exception {
        KitContext ctx = TestContext.under(models.resolveSibling("work"), new TestConsole().console);
        return StepRunner.run(new FetchModelsStep(o), ctx.withLayout(ctx.layout().withModels(models)).withMode(mode));
    }

    @Test
    void takesTheBuffaloLFilesHashesAndRecordsThemMakesThemActiveAndKeepsTheCalibration(@TempDir Path tmp) throws Exception {
        Path folder = buffaloL(tmp.resolve("home"));
        Path models = defaultModels(tmp);
        byte[] before = Files.readAllBytes(ModelCatalog.file(models));

        // A dry run checks and says, and changes nothing.
        var dry = run(models, insight(folder, InsightFaceFiles.OtherHash.ACCEPT), KitContext.Mode.DRY_RUN);
        assertEquals(2, dry.plan().copies().size());
        assertTrue(dry.plan().fetch().isEmpty(), "nothing is downloaded");
        assertArrayEquals(before, Files.readAllBytes(ModelCatalog.file(models)));
        assertFalse(Files.exists(models.resolve("det_10g.onnx")));
        assertFalse(Files.exists(models.resolve("backups")));

        var o = run(models, insight(folder, InsightFaceFiles.OtherHash.ACCEPT), KitContext.Mode.APPLY);
        for (String f : List.of("det_10g.onnx", "w600k_r50.onnx")) {
            assertArrayEquals(Files.readAllBytes(folder.resolve(f)), Files.readAllBytes(models.resolve(f)), f + " copied byte for byte");
        }
        assertFalse(Files.exists(models.resolve("genderage.onnx")));
        ObjectNode doc = ModelCatalog.read(models);
        assertEquals("det_10g", doc.at("/active/detector").asText());
        assertTrue(doc.at("/active/landmarks").isNull(), "SCRFD gives the 5 points itself");
        assertEquals("w600k_r50", doc.at("/active/recognizer").asText());
        for (String name : List.of("det_10g", "w600k_r50")) {
            JsonNode e = doc.at("/models/" + name);
            assertEquals(ModelCatalog.sha256(folder.resolve(name + ".onnx")), e.get("sha256").asText(), name + "'s hash recorded");
            assertEquals(ModelCatalog.known(name).sha256(), e.get("release_sha256").asText());
            assertFalse(e.get("matches_release").asBoolean(), "a file that is not the release's says so");
        }
        // What the kit needs to run them, in the catalogue.
        JsonNode det = doc.at("/models/det_10g"), rec = doc.at("/models/w600k_r50");
        assertEquals("[640,640]", det.get("input_size").toString());
        assertEquals("RGB", det.get("color").asText());
        assertEquals(127.5, det.get("mean").asDouble());
        assertEquals(128.0, det.get("std").asDouble());
        assertEquals(0.5, det.get("score_threshold").asDouble());
        assertEquals(0.4, det.get("nms_threshold").asDouble());
        assertEquals(9, det.get("output_names").size());
        assertEquals("RGB", rec.get("color").asText());
        assertEquals(127.5, rec.get("std").asDouble());
        assertEquals("[\"683\"]", rec.get("output_names").toString());
        assertEquals("w600k_r50", rec.get("embedding_model").asText());
        // The archive's own calibration stays; the default models stay registered.
        assertEquals(0.99, doc.at("/thresholds/w600k_r50/high").asDouble(), "calibrated thresholds are kept");
        assertEquals(1.10, doc.at("/thresholds/faceplugin-fr_feature-0.0.1/high").asDouble());
        assertTrue(doc.at("/models/fr_detect").isObject());
        // The previous models.json was backed up first.
        assertNotNull(o.result().backup());
        assertArrayEquals(before, Files.readAllBytes(Path.of(o.result().backup())));
        // The models load and run: the SCRFD-shaped detector and the ArcFace-shaped recognizer.
        try (FaceModels m = FaceModels.open(models, 1)) {
            assertEquals("w600k_r50", m.embeddingModel);
            assertEquals("scrfd", m.detector.family());
        }
        // Running it again copies nothing and writes nothing.
        var again = run(models, insight(folder, InsightFaceFiles.OtherHash.ACCEPT), KitContext.Mode.APPLY);
        assertTrue(again.plan().nothingToDo());
        assertTrue(again.plan().copies().stream().allMatch(FetchModelsStep.Copy::alreadyThere));
        // fetch-models without the option keeps that selection; --detector fr_detect goes back to the default detector.
        assertEquals("w600k_r50", run(models, FetchModelsStep.Options.defaults(), KitContext.Mode.APPLY).result().active().recognizer());
        var back = run(models, FetchModelsStep.Options.defaults().select(Optional.of("fr_detect"), Optional.of("fr_feature")), KitContext.Mode.APPLY);
        assertEquals("fr_landmark", back.result().active().landmarks());
        assertEquals(0.99, ModelCatalog.read(models).at("/thresholds/w600k_r50/high").asDouble(), "still kept");
    }

    @Test
    void filesThatAreNotTheReleasesAreRefusedNamingTheFileAndModelsJsonStaysUnchanged(@TempDir Path tmp) throws Exception {
        Path folder = buffaloL(tmp.resolve("home"));
        Path models = defaultModels(tmp);
        byte[] before = Files.readAllBytes(ModelCatalog.file(models));

        KitException e = assertThrows(KitException.class, () -> run(models, insight(folder, InsightFaceFiles.OtherHash.REFUSE), KitContext.Mode.APPLY));
        assertTrue(e.getMessage().contains(folder.resolve("det_10g.onnx").toString()) && e.getMessage().contains(folder.resolve("w600k_r50.onnx").toString()),
                e.getMessage());
        // The tiny files are smaller than the release's: named truncated, with the sizes.
        assertTrue(e.getMessage().contains("is truncated") && e.getMessage().contains("174383860"), e.getMessage());
        assertTrue(e.getMessage().contains("nothing was changed"), e.getMessage());
        assertUnchanged(models, before);

        // Folder missing.
        e = assertThrows(KitException.class, () -> run(models, insight(tmp.resolve("nowhere"), InsightFaceFiles.OtherHash.ACCEPT), KitContext.Mode.APPLY));
        assertTrue(e.getMessage().contains(tmp.resolve("nowhere").toString()) && e.getMessage().contains("does not exist"), e.getMessage());
        assertTrue(e.fix().contains("--from-insightface DIR"), e.fix());

        // One file missing.
        Files.delete(folder.resolve("w600k_r50.onnx"));
        e = assertThrows(KitException.class, () -> run(models, insight(folder, InsightFaceFiles.OtherHash.ACCEPT), KitContext.Mode.APPLY));
        assertTrue(e.getMessage().contains(folder.resolve("w600k_r50.onnx") + " is missing"), e.getMessage());
        assertTrue(e.fix().contains("buffalo_l.zip"), e.fix());
        assertUnchanged(models, before);

        // The wrong model under the right name: the detector where the recognizer should be.
        TinyScrfdModel.write(folder.resolve("w600k_r50.onnx"));
        e = assertThrows(KitException.class, () -> run(models, insight(folder, InsightFaceFiles.OtherHash.ACCEPT), KitContext.Mode.APPLY));
        assertTrue(e.getMessage().contains("w600k_r50.onnx is not an ArcFace recognizer"), e.getMessage());
        assertUnchanged(models, before);

        // A damaged file (cut short) that only the shape check can catch.
        byte[] arc = TinyArcFaceModel.build();
        Files.write(folder.resolve("w600k_r50.onnx"), Arrays.copyOf(arc, arc.length / 2));
        e = assertThrows(KitException.class, () -> run(models, insight(folder, InsightFaceFiles.OtherHash.ACCEPT), KitContext.Mode.APPLY));
        assertTrue(e.getMessage().contains("w600k_r50.onnx is not") && e.getMessage().contains("cannot load it"), e.getMessage());
        assertUnchanged(models, before);
    }

    static void assertUnchanged(Path models, byte[] before) throws Exception {
        assertArrayEquals(before, Files.readAllBytes(ModelCatalog.file(models)), "models.json unchanged");
        assertFalse(Files.exists(models.resolve("det_10g.onnx")), "nothing copied");
        assertFalse(Files.exists(models.resolve("w600k_r50.onnx")), "nothing copied");
        assertFalse(Files.exists(models.resolve("backups")), "nothing backed up: nothing was written");
    }

    @Test
    void aFileWithTheReleasesHashIsTakenWithoutAskingAndItsTruncatedCopyIsNamed(@TempDir Path tmp) throws Exception {
        Path file = tmp.resolve("w600k_r50.onnx");
        TinyArcFaceModel.write(file);
        ModelCatalog.Known r = ModelCatalog.W600K_R50;
        ModelCatalog.Known pinned = new ModelCatalog.Known(r.name(), r.file(), ModelCatalog.sha256(file), r.family(), r.role(),
                r.embeddingModel(), r.source(), r.licence(), Files.size(file));
        InsightFaceFiles.Checked c = InsightFaceFiles.check(file, pinned, InsightFaceFiles.OtherHash.REFUSE);
        assertTrue(c.matchesRelease());
        byte[] all = Files.readAllBytes(file);
        Files.write(file, Arrays.copyOf(all, all.length - 100));
        KitException e = assertThrows(KitException.class, () -> InsightFaceFiles.check(file, pinned, InsightFaceFiles.OtherHash.REFUSE));
        assertTrue(e.getMessage().contains("is truncated: " + (all.length - 100) + " of the release's " + all.length + " bytes"), e.getMessage());
        // Taken as "another export", the cut file still fails: ONNX Runtime cannot load it.
        e = assertThrows(KitException.class, () -> InsightFaceFiles.check(file, pinned, InsightFaceFiles.OtherHash.ACCEPT));
        assertTrue(e.getMessage().contains("cannot load it"), e.getMessage());
    }

    @Test
    void theCatalogueSaysWhatTheDetectorAndEmbedderDo() {
        assertEquals(FaceDetector.SCRFD_SIZE, ModelCatalog.SCRFD_INPUT);
        assertEquals(FaceDetector.NMS_IOU, ModelCatalog.SCRFD_NMS);
        assertEquals(FaceAligner.SIZE, ModelCatalog.ARCFACE_INPUT);
        assertEquals(Path.of("/home/x/.insightface/models/buffalo_l"), InsightFaceFiles.defaultFolder(Map.of("HOME", "/home/x")));
        assertArrayEquals(new double[] {0.80, 1.05, 1.15, 1.20, 1.25, 0.95}, ModelCatalog.THRESHOLDS.get("w600k_r50"), "the archive's own thresholds");
    }

    @Test
    void ingestRunsWithTheTakenModelsAndTagsItsFacesW600kR50(@TempDir Path tmp) throws Exception {
        Path models = defaultModels(tmp);
        run(models, insight(buffaloL(tmp.resolve("home")), InsightFaceFiles.OtherHash.ACCEPT), KitContext.Mode.APPLY);
        Path work = tmp.resolve("work");
        Path upload = Files.createDirectories(work.resolve("raw_photos/pending/job-if"));
        BufferedImage img = new BufferedImage(320, 240, BufferedImage.TYPE_INT_RGB);
        var g = img.createGraphics();
        g.setColor(new Color(120, 100, 90));
        g.fillRect(0, 0, 320, 240);
        g.dispose();
        ImageIO.write(img, "jpg", upload.resolve("photo.jpg").toFile());
        TestConsole console = new TestConsole();
        KitContext ctx = TestContext.under(work, console.console);
        ctx = ctx.withLayout(ctx.layout().withModels(models));
        var o = StepRunner.run(new IngestStep(IngestStep.Options.folders(List.of(new UploadFolder("job-if", upload)))), ctx);
        assertEquals("w600k_r50", o.plan().embeddingModel());
        assertTrue(console.text().contains("models: w600k_r50 (scrfd detector)"), console.text());
        List<EmbeddingStore.Face> faces = EmbeddingStore.open(work.resolve("data")).faces();
        assertEquals(1, faces.size(), "the tiny detector's one face");
        assertEquals("w600k_r50", faces.get(0).model());
        assertEquals(512, faces.get(0).mu().length);
    }

    // ------------------------------------------------------------------ the pre-flight rule

    /** A kit root holding the legacy fixture's archive (w600k_r50 faces) and {@code models}. */
    static Path legacyRoot(Path tmp, Path models) throws Exception {
        Path root = Files.createDirectories(tmp.resolve("root"));
        Files.writeString(root.resolve("jbang-catalog.json"), "{}");
        Path data = Files.createDirectories(root.resolve("data"));
        for (String n : List.of("identities.json", "photo_index.json", "embeddings.npy")) {
            Files.copy(ClusterTest.LEGACY.resolve("data").resolve(n), data.resolve(n));
            data.resolve(n).toFile().setWritable(true);
        }
        Path m = Files.createDirectories(root.resolve("models"));
        try (var s = Files.list(models)) {
            for (Path p : s.filter(Files::isRegularFile).toList()) Files.copy(p, m.resolve(p.getFileName()));
        }
        return root;
    }

    @Test
    void anArchiveOfW600kR50FacesWithOtherModelsActiveStopsThePipelineFirstWithTheCommands(@TempDir Path tmp) throws Exception {
        Path root = legacyRoot(tmp, defaultModels(tmp));
        KitProcess.Result r = KitProcess.run(Map.of("KIT_ROOT", root.toString()), "", "process_uploads.java", "--auto");
        assertEquals(1, r.exitCode(), r.all());
        List<String> lines = r.all().lines().filter(l -> !l.isBlank()).toList();
        assertTrue(lines.get(0).startsWith("ERROR: the archive's 85 faces were embedded with InsightFace's w600k_r50, but the active recognizer makes faceplugin-fr_feature-0.0.1"),
                r.all());
        assertTrue(lines.get(1).contains(ModelCheck.FROM_INSIGHTFACE) && lines.get(1).contains(ModelCheck.REEMBED), r.all());
        assertEquals(2, lines.size(), "nothing else was said or done: " + r.all());
        assertFalse(Files.exists(root.resolve("data/backups")), "nothing was backed up");
        assertFalse(Files.exists(root.resolve("data/runs")), "no run was started");
        assertFalse(Files.exists(root.resolve("raw_photos")), "nothing was downloaded");

        // ingest refuses the same way, before it looks at a photo; cluster says it first (under its heading), once, and goes on.
        KitProcess.Result ingest = KitProcess.run(Map.of("KIT_ROOT", root.toString()), "", "ingest", "--directory", root.resolve("nothing").toString(), "--job-id", "j");
        assertEquals(1, ingest.exitCode(), ingest.all());
        assertTrue(ingest.stderr().startsWith("ERROR: the archive's 85 faces were embedded with InsightFace's w600k_r50"), ingest.all());
        KitProcess.Result rescan = KitProcess.run(Map.of("KIT_ROOT", root.toString()), "", "rescan", "--dry-run");
        assertEquals(1, rescan.exitCode(), rescan.all());
        assertTrue(rescan.stderr().startsWith("ERROR: the archive's 85 faces were embedded with InsightFace's w600k_r50"), rescan.all());
        KitProcess.Result cluster = KitProcess.run(Map.of("KIT_ROOT", root.toString()), "", "cluster");
        assertEquals(0, cluster.exitCode(), cluster.all());
        List<String> said = cluster.stdout().lines().filter(l -> !l.isBlank()).toList();
        assertTrue(said.get(0).startsWith("--- Step 4"), cluster.all());
        assertTrue(said.get(1).contains("the archive's 85 faces were embedded with InsightFace's w600k_r50"), cluster.all());
        assertEquals(1, said.stream().filter(l -> l.contains("were embedded with")).count(), "said once: " + cluster.all());
    }

    @Test
    void withInsightFacesModelsActiveThePipelineSaysNothingAboutModels(@TempDir Path tmp) throws Exception {
        Path models = defaultModels(tmp);
        Path home = tmp.resolve("home");
        buffaloL(home);
        // fetch-models --from-insightface as a user runs it, finding the folder under $HOME.
        KitProcess.Result f = KitProcess.run(Map.of("HOME", home.toString()), "", "fetch-models", "--from-insightface",
                "--allow-other-hash", "--models-dir", models.toString());
        assertEquals(0, f.exitCode(), f.all());
        assertTrue(f.all().contains("recognizer w600k_r50"), f.all());
        Path root = legacyRoot(tmp, models);
        assertFalse(ModelCheck.of(Layout.standard(root)).mismatch());
        KitProcess.Result r = KitProcess.run(Map.of("KIT_ROOT", root.toString(), "RHODESLI_SITE_URL", "", "RHODESLI_SYNC_TOKEN", ""), "",
                "process_uploads.java", "--auto");
        // It gets as far as its pre-flight (no site settings here), with no word about models.
        assertEquals(1, r.exitCode(), r.all());
        assertTrue(r.all().contains("pre-flight check failed"), r.all());
        assertFalse(r.all().contains("w600k_r50") || r.all().contains("fetch-models") || r.all().contains("reembed"), r.all());
    }

    @Test
    void theRuleItself(@TempDir Path tmp) throws Exception {
        Path root = legacyRoot(tmp, defaultModels(tmp));
        Layout l = Layout.standard(root);
        ModelCheck.Verdict v = ModelCheck.of(l);
        assertTrue(v.mismatch());
        assertEquals(Map.of("w600k_r50", 85), v.facesByModel());
        assertEquals("faceplugin-fr_feature-0.0.1", v.active());
        // No models at all yet: the first run on the maintainers' computer.
        Files.delete(ModelCatalog.file(l.models()));
        v = ModelCheck.of(l);
        assertTrue(v.problem().contains("no face models are installed"), v.problem());
        assertTrue(v.fix().startsWith("take InsightFace's own files from this computer: ./jbang fetch-models --from-insightface"), v.fix());
        // An empty archive: nothing to say.
        assertFalse(ModelCheck.of(Layout.standard(tmp.resolve("empty"))).mismatch());
        // WARN says it and goes on.
        TestConsole c = new TestConsole();
        Files.copy(defaultModels(tmp.resolve("again")).resolve("models.json"), ModelCatalog.file(l.models()));
        ModelCheck.beforeWork(l, c.console, ModelCheck.OnMismatch.WARN);
        assertTrue(c.text().contains(ModelCheck.FROM_INSIGHTFACE), c.text());
    }
}
