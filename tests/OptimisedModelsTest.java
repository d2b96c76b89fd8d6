import static org.junit.jupiter.api.Assertions.*;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The optimised-model cache (FaceModels.OptimisedModels) on the real default models: reused,
 * made again when the model file changes or the entry is damaged, never in the way when it
 * cannot be written; and the ingest's early model loading leaves nothing behind when the plan
 * is refused.
 */
class OptimisedModelsTest {
    static final Path MODELS = FaceModelsTest.MODELS;

    @BeforeAll
    static void models() throws Exception {
        FaceModelsTest.models();   // fetched once if missing
    }

    static OrtEnvironment env() {
        return OnnxRuntimeLibraries.environment();
    }

    static List<Path> entries(Path cache) throws Exception {
        if (!Files.isDirectory(cache)) return List.of();
        try (Stream<Path> s = Files.list(cache)) {
            return s.sorted().toList();
        }
    }

    /** fr_feature's output for a fixed input: what a session computes, to compare bit for bit. */
    static float[] embed(OrtSession s) throws Exception {
        float[] in = new float[3 * 112 * 112];
        for (int i = 0; i < in.length; i++) in[i] = ((i * 7919) % 255 - 127.5f) / 128f;
        try (OnnxTensor t = OnnxTensor.createTensor(env(), FloatBuffer.wrap(in), new long[] {1, 3, 112, 112});
             OrtSession.Result r = s.run(Map.of(s.getInputNames().iterator().next(), t))) {
            FloatBuffer fb = ((OnnxTensor) r.get(0)).getFloatBuffer();
            float[] out = new float[fb.remaining()];
            fb.get(out);
            return out;
        }
    }

    @Test
    void theOptimisedModelIsKeptAndReusedAndComputesTheSame(@TempDir Path dir) throws Exception {
        Path cache = dir.resolve("cache");
        FaceModels.OptimisedModels c = new FaceModels.OptimisedModels(cache);
        Path model = MODELS.resolve("fr_feature.onnx");
        float[] plain;
        try (OrtSession s = new FaceModels.OptimisedModels(null).open(env(), model, 1).session()) {
            plain = embed(s);
        }
        assertEquals(List.of(), entries(cache), "no cache folder: nothing written");

        FaceModels.OptimisedModels.Opened first = c.open(env(), model, 1);
        try (OrtSession s = first.session()) {
            assertEquals(FaceModels.OptimisedModels.Source.MODEL_FILE, first.source());
            assertArrayEquals(plain, embed(s));
        }
        List<Path> made = entries(cache);
        assertEquals(1, made.size(), "one entry, no temporary file left: " + made);
        assertTrue(made.get(0).getFileName().toString().startsWith("fr_feature-"), made.toString());
        long size = Files.size(made.get(0));

        FaceModels.OptimisedModels.Opened again = c.open(env(), model, 1);
        try (OrtSession s = again.session()) {
            assertEquals(FaceModels.OptimisedModels.Source.CACHE, again.source(), "the second session comes from the cache");
            assertArrayEquals(plain, embed(s), "the cached graph computes bit for bit the same");
        }
        assertEquals(made, entries(cache));
        assertEquals(size, Files.size(made.get(0)));
        assertFalse(Files.list(MODELS).anyMatch(p -> p.getFileName().toString().contains(".tmp.")), "nothing written into models/");
    }

    @Test
    void aChangedModelFileIsNotServedFromTheCache(@TempDir Path dir) throws Exception {
        Path cache = dir.resolve("cache");
        FaceModels.OptimisedModels c = new FaceModels.OptimisedModels(cache);
        Path model = dir.resolve("models/m.onnx");
        Files.createDirectories(model.getParent());
        Files.copy(MODELS.resolve("fr_landmark.onnx"), model);
        try (OrtSession s = c.open(env(), model, 1).session()) {
            assertInput(s, 1, 1, 64, 64);
        }
        // Same path, another model (the detector): its own graph, not the landmark model's cached one.
        Files.copy(MODELS.resolve("fr_detect.onnx"), model, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        FaceModels.OptimisedModels.Opened changed = c.open(env(), model, 1);
        try (OrtSession s = changed.session()) {
            assertEquals(FaceModels.OptimisedModels.Source.MODEL_FILE, changed.source());
            assertInput(s, 1, 3, 240, 320);
        }
        FaceModels.OptimisedModels.Opened reused = c.open(env(), model, 1);
        try (OrtSession s = reused.session()) {
            assertEquals(FaceModels.OptimisedModels.Source.CACHE, reused.source());
            assertInput(s, 1, 3, 240, 320);
        }
    }

    /** The model's input shape, a symbolic (batch) dimension given as -1 matching anything. */
    static void assertInput(OrtSession s, long... expected) throws Exception {
        long[] shape = ((TensorInfo) s.getInputInfo().values().iterator().next().getInfo()).getShape();
        assertEquals(expected.length, shape.length, Arrays.toString(shape));
        for (int i = 0; i < shape.length; i++) assertTrue(shape[i] == expected[i] || shape[i] < 0, Arrays.toString(shape));
    }

    @Test
    void aDamagedEntryIsIgnoredAndMadeAgain(@TempDir Path dir) throws Exception {
        Path cache = dir.resolve("cache");
        FaceModels.OptimisedModels c = new FaceModels.OptimisedModels(cache);
        Path model = MODELS.resolve("fr_landmark.onnx");
        c.open(env(), model, 1).session().close();
        Path entry = entries(cache).get(0);
        byte[] good = Files.readAllBytes(entry);

        // Damaged in place (same name): its own check fails, so it is made again from the model file.
        byte[] bad = good.clone();
        for (int i = bad.length / 2; i < bad.length / 2 + 64; i++) bad[i] ^= 0x5a;
        Files.write(entry, bad);
        FaceModels.OptimisedModels.Opened o = c.open(env(), model, 1);
        o.session().close();
        assertEquals(FaceModels.OptimisedModels.Source.MODEL_FILE, o.source());
        assertArrayEquals(good, Files.readAllBytes(entries(cache).get(0)), "made again, whole");

        // Garbage that passes its name's check (written by something else entirely): ONNX Runtime refuses it, it is made again.
        Files.delete(entries(cache).get(0));
        byte[] junk = "not a model".getBytes();
        String name = entry.getFileName().toString();
        String key = name.substring(0, name.lastIndexOf('-'));
        Files.write(cache.resolve(key + "-" + crc(junk) + ".onnx"), junk);
        FaceModels.OptimisedModels.Opened o2 = c.open(env(), model, 1);
        o2.session().close();
        assertEquals(FaceModels.OptimisedModels.Source.MODEL_FILE, o2.source());
        assertEquals(1, entries(cache).size(), entries(cache).toString());
        assertArrayEquals(good, Files.readAllBytes(entries(cache).get(0)));
        FaceModels.OptimisedModels.Opened o3 = c.open(env(), model, 1);
        o3.session().close();
        assertEquals(FaceModels.OptimisedModels.Source.CACHE, o3.source());
    }

    static String crc(byte[] b) {
        java.util.zip.CRC32 c = new java.util.zip.CRC32();
        c.update(b);
        return String.format("%08x", c.getValue());
    }

    @Test
    void aCacheThatCannotBeWrittenIsNoObstacle(@TempDir Path dir) throws Exception {
        Path notADir = dir.resolve("cache");
        Files.writeString(notADir, "a file where the cache folder would be");
        FaceModels.OptimisedModels.Opened o = new FaceModels.OptimisedModels(notADir).open(env(), MODELS.resolve("fr_landmark.onnx"), 1);
        o.session().close();
        assertEquals(FaceModels.OptimisedModels.Source.MODEL_FILE, o.source());
        assertEquals("a file where the cache folder would be", Files.readString(notADir));
    }

    /**
     * The recognizer's 33 PRelu run as convolutions (PReluAsConvolutions, 1.8x faster per face):
     * the session the cache makes, and the one it reuses, give the model file's bits on every
     * face of eval/identities; a model without PRelu is used as it is.
     */
    @Test
    void theRecognizersPReluRunAsConvolutionsAndEveryFaceKeepsItsBits(@TempDir Path dir) throws Exception {
        FaceModelsTest.assumeEval();
        Path recognizer = MODELS.resolve("fr_feature.onnx");
        assertNotNull(FaceModels.OptimisedModels.fasterForm(env(), recognizer, 1), "fr_feature rewritten, same bits on the probe inputs");
        assertNull(FaceModels.OptimisedModels.fasterForm(env(), MODELS.resolve("fr_detect.onnx"), 1), "no PRelu in the detector: as it is");
        List<Path> chips;
        try (Stream<Path> s = Files.walk(FaceModelsTest.EVAL.resolve("identities"))) {
            chips = s.filter(Files::isRegularFile).sorted().toList();
        }
        FaceModels m = FaceModelsTest.models();
        FaceModels.OptimisedModels cache = new FaceModels.OptimisedModels(dir.resolve("cache"));
        try (OrtSession plain = new FaceModels.OptimisedModels(null).open(env(), recognizer, 1).session();
             OrtSession made = cache.open(env(), recognizer, 1).session()) {
            FaceModels.OptimisedModels.Opened again = cache.open(env(), recognizer, 1);
            try (OrtSession reused = again.session()) {
                assertEquals(FaceModels.OptimisedModels.Source.CACHE, again.source());
                FaceEmbedder want = new FaceEmbedder(plain, false, 128.0), first = new FaceEmbedder(made, false, 128.0),
                        later = new FaceEmbedder(reused, false, 128.0);
                int faces = 0;
                for (Path chip : chips) {
                    Photos.Image img = Photos.decode(chip).image();
                    List<FaceDetector.Face> found = m.detector.detect(img);
                    if (found.isEmpty()) continue;
                    Photos.Image aligned = m.aligner.align(img, m.aligner.fivePoints(img, found.get(0)));
                    FaceEmbedder.Embedding w = want.embed(aligned), a = first.embed(aligned), b = later.embed(aligned);
                    for (FaceEmbedder.Embedding e : List.of(a, b)) {
                        assertEquals(Float.floatToRawIntBits(w.quality()), Float.floatToRawIntBits(e.quality()), chip.toString());
                        for (int i = 0; i < w.mu().length; i++) {
                            assertEquals(Float.floatToRawIntBits(w.mu()[i]), Float.floatToRawIntBits(e.mu()[i]), chip + " value " + i);
                        }
                    }
                    faces++;
                }
                assertTrue(faces >= chips.size() * 9 / 10, faces + " of " + chips.size() + " chips gave a face");
            }
        }
    }

    @Test
    void aRefusedPlanLeavesNoModelLoadingBehind(@TempDir Path dir) throws Exception {
        Assumptions.assumeTrue(Files.isDirectory(FaceModelsTest.EVAL), "../shared/eval is absent: this test needs its photos");
        Path upload = dir.resolve("pending/job-a");
        Files.createDirectories(upload);
        Files.copy(FaceModelsTest.EVAL.resolve("group-photos/bbt3.jpg"), upload.resolve("bbt3.jpg"));
        Files.createDirectories(dir.resolve("data"));
        Files.writeString(dir.resolve("data/photo_index.json"), "{ damaged");
        // The step loads its own models (no shared ones): they start before the archive is read.
        IngestStep step = new IngestStep(IngestStep.Options.folders(List.of(new UploadFolder("job-a", upload))));
        TestConsole out = new TestConsole();
        KitException e = assertThrows(KitException.class, () -> step.plan(TestContext.under(dir, out.console)));
        assertTrue(e.getMessage().contains("photo_index.json"), e.getMessage());
        List<String> left = Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive).map(Thread::getName)
                .filter(n -> n.startsWith("face-models-load") || n.startsWith("onnx-session-setup") || n.startsWith("ingest-")).toList();
        assertEquals(List.of(), left, "no model-loading thread outlives the refused plan");
        try (Stream<Path> s = Files.walk(dir)) {
            assertEquals(java.util.Set.of(upload.resolve("bbt3.jpg"), dir.resolve("data/photo_index.json")),
                    s.filter(Files::isRegularFile).collect(java.util.stream.Collectors.toSet()), "nothing written");
        }
    }
}
