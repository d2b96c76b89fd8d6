import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.OptionalInt;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Step 4 on the legacy fixture must give exactly the earlier pipeline's results (improvements included). */
class ClusterTest {
    static final Path LEGACY = EmbeddingStoreTest.LEGACY;
    static final Path EXPECTED = LEGACY.resolve("expected");
    static final String TIMESTAMP = "\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{6}\\+00:00";

    static void seed(Path dir) throws Exception {
        for (String n : List.of("identities.json", "photo_index.json", "embeddings.npy")) {
            Files.copy(LEGACY.resolve("data").resolve(n), dir.resolve(n));
        }
    }

    static ClusterStep.Options options(Double threshold, Integer limit) {
        return new ClusterStep.Options(threshold == null ? OptionalDouble.empty() : OptionalDouble.of(threshold),
                limit == null ? OptionalInt.empty() : OptionalInt.of(limit));
    }

    /** The archive in {@code dir}; an empty models folder: the thresholds are the archive's own (w600k_r50) values. */
    static KitContext context(Path dir, Path models, boolean execute) {
        KitContext c = TestContext.withData(dir, new TestConsole().console).withMode(execute ? KitContext.Mode.APPLY : KitContext.Mode.DRY_RUN);
        return c.withLayout(c.layout().withModels(models).withPhotos(dir.resolve("no-photos")).withCrops(dir.resolve("no-crops")));
    }

    /** Runs step 4 as its script does: plan, reports, and (execute) apply. */
    static StepRunner.Outcome<ClusterStep.Plan, ClusterStep.Result> run(Path dir, Double threshold, boolean execute, Integer limit) throws Exception {
        return run(dir, dir.resolve("no-models"), threshold, execute, limit);
    }

    static StepRunner.Outcome<ClusterStep.Plan, ClusterStep.Result> run(Path dir, Path models, Double threshold, boolean execute, Integer limit)
            throws Exception {
        return StepRunner.run(new ClusterStep(options(threshold, limit)), context(dir, models, execute));
    }

    @Test
    void dryRunAtBothThresholdsGivesTheExpectedProposalsAndChangesNothingElse(@TempDir Path dir) throws Exception {
        seed(dir);
        byte[] identities = Files.readAllBytes(dir.resolve("identities.json"));
        byte[] photos = Files.readAllBytes(dir.resolve("photo_index.json"));
        for (String t : List.of("1.05", "1.25")) {
            var o = run(dir, Double.valueOf(t), false, null);
            ObjectNode got = JsonFiles.readObject(dir.resolve("proposals.json"));
            assertTrue(got.remove("generated_at").asText().matches(TIMESTAMP));
            JsonNode want = JsonFiles.read(EXPECTED.resolve("proposals-" + t + ".json"));
            assertJsonEquals(want, got, "proposals at " + t);
            assertEquals(want.get("proposals").size(), o.plan().proposals().size());
            assertNull(o.result(), "a dry run applies nothing");
        }
        assertArrayEquals(identities, Files.readAllBytes(dir.resolve("identities.json")), "a dry run never writes identities.json");
        assertArrayEquals(photos, Files.readAllBytes(dir.resolve("photo_index.json")));
        assertFalse(Files.exists(dir.resolve("backups")), "a dry run needs no backup");
        try (var pages = Files.list(dir.resolve("review"))) {
            assertEquals(2, pages.filter(p -> p.toString().endsWith(".html")).count(), "one review page per run");
        }
    }

    @Test
    void theDefaultThresholdIsTheModelsCalibratedHigh(@TempDir Path dir) throws Exception {
        seed(dir);
        ClusterStep.Plan s = run(dir, null, false, null).plan();
        assertEquals(1.05, s.threshold());
        assertEquals("w600k_r50", s.model());
        ObjectNode got = JsonFiles.readObject(dir.resolve("proposals.json"));
        got.remove("generated_at");
        assertJsonEquals(JsonFiles.read(EXPECTED.resolve("proposals-1.05.json")), got, "default threshold");

        // A models.json with other values for w600k_r50 moves the default and the labels.
        Path models = dir.resolve("models");
        Files.createDirectories(models);
        Files.writeString(models.resolve("models.json"), """
                {"schema_version": 1, "thresholds": {"w600k_r50": {"very_high": 0.5, "high": 0.8, "moderate": 0.9,
                 "medium": 1.0, "low": 1.1, "grouping": 0.7, "calibration": "test"}}}""");
        assertEquals(3, run(dir, models, null, false, null).plan().proposals().size(), "0.6625, 0.7699 and 0.791 are under 0.8");
        JsonNode first = JsonFiles.readObject(dir.resolve("proposals.json")).get("proposals").get(0);
        assertEquals("HIGH", first.get("confidence").asText(), "0.6625 is HIGH when VERY HIGH is < 0.5");
    }

    @Test
    void skippedIdentitiesWithAStrongMatchAreListedForPromotion(@TempDir Path dir) throws Exception {
        seed(dir);
        for (Double t : new Double[] {1.05, 1.25}) {
            ClusterStep.Plan s = run(dir, t, false, null).plan();
            List<String> contexts = new ArrayList<>();
            for (Matcher.Promotion p : s.promotions()) contexts.add(p.identityName() + ": " + p.context());
            // Only SKIPPED sources labelled VERY HIGH or HIGH: the MODERATE/LOW ones at 1.25 are not promoted.
            assertEquals(List.of(
                    "Unidentified Person 084: Matches Luna Leonora Capuano at distance 0.803 (HIGH)",
                    "Unidentified Person 081: Matches Luna Leonora Capuano at distance 0.965 (HIGH)",
                    "Unidentified Person 087: Matches Sol Sedikaro at distance 0.974 (HIGH)"), contexts, "at " + t);
        }
        // An identity promoted before is not promoted again.
        ObjectNode ids = JsonFiles.readObject(dir.resolve("identities.json"));
        ((ObjectNode) ids.get("identities").get("7d9dbdad-b146-4000-871b-f21d84bdaef6")).put("promoted_from", "SKIPPED");
        JsonFiles.write(dir.resolve("identities.json"), ids);
        assertEquals(2, run(dir, 1.05, false, null).plan().promotions().size());
    }

    @Test
    void executeGivesTheExpectedIdentitiesAfterABackup(@TempDir Path base) throws Exception {
        for (String t : List.of("1.05", "1.25")) {
            Path dir = Files.createDirectories(base.resolve(t));
            seed(dir);
            byte[] before = Files.readAllBytes(dir.resolve("identities.json"));
            ClusterStep.Result s = run(dir, Double.valueOf(t), true, null).result();
            JsonNode want = JsonFiles.read(EXPECTED.resolve("execute-" + t + ".json"));
            assertEquals(want.get("applied").asInt(), s.applied(), "applied at " + t);
            ObjectNode got = JsonFiles.readObject(dir.resolve("identities.json"));
            maskNow(got, want.get("identities"));
            assertJsonEquals(want.get("identities"), got, "identities after --execute at " + t);
            // Key order too: the archive's diffs stay readable.
            assertEquals(JsonFiles.pretty(want.get("identities")), JsonFiles.pretty(got));
            // The backup holds the archive exactly as it was.
            String label = s.backup();
            assertArrayEquals(before, Files.readAllBytes(dir.resolve("backups/identities.json." + label + ".bak")));
            // Running again finds nothing left to propose.
            var again = run(dir, Double.valueOf(t), true, null);
            assertEquals(0, again.plan().proposals().size());
        }
    }

    @Test
    void executePromotesASkippedIdentityThatKeepsOtherFaces(@TempDir Path dir) throws Exception {
        seed(dir);
        // Unidentified Person 084 (SKIPPED) also holds a face without an embedding: moving its matched
        // face leaves it standing, so --execute promotes it instead of merging it away.
        ObjectNode ids = JsonFiles.readObject(dir.resolve("identities.json"));
        ObjectNode p084 = (ObjectNode) ids.get("identities").get("021fd642-92bb-459e-a5f9-7c6c8935e4eb");
        p084.withArray("candidate_ids").add("inbox_000000000000");
        JsonFiles.write(dir.resolve("identities.json"), ids);
        var s = run(dir, 1.05, true, null);
        assertEquals(12, s.result().applied());
        assertEquals(1, s.result().promoted());
        assertEquals(1, s.plan().facesWithoutEmbedding().size());
        JsonNode after = JsonFiles.readObject(dir.resolve("identities.json")).get("identities").get("021fd642-92bb-459e-a5f9-7c6c8935e4eb");
        assertFalse(after.has("merged_into"));
        assertEquals("[\"inbox_000000000000\"]", after.get("candidate_ids").toString());
        assertEquals("SKIPPED", after.get("promoted_from").asText());
        assertTrue(after.get("promoted_at").asText().matches(TIMESTAMP));
        assertEquals("confirmed_match", after.get("promotion_reason").asText());
        assertEquals("Matches Luna Leonora Capuano at distance 0.803 (HIGH)", after.get("promotion_context").asText());
        assertEquals("SKIPPED", after.get("state").asText(), "a promotion never changes the state: a person decides");
    }

    @Test
    void limitKeepsTheClosestProposals(@TempDir Path dir) throws Exception {
        seed(dir);
        run(dir, 1.25, false, 5);
        JsonNode got = JsonFiles.readObject(dir.resolve("proposals.json")).get("proposals");
        JsonNode want = JsonFiles.read(EXPECTED.resolve("proposals-1.25.json")).get("proposals");
        assertEquals(5, got.size());
        for (int i = 0; i < 5; i++) assertJsonEquals(want.get(i), got.get(i), "proposal " + i);
    }

    @Test
    void facesOfDifferentModelsAreNeverCompared(@TempDir Path dir) throws Exception {
        seed(dir);
        // A new face from another model, attached to an unresolved identity.
        EmbeddingStore store = EmbeddingStore.open(dir);
        store.append(EmbeddingStoreTest.faces("inbox_51d40f41e72c", 1, 5, "faceplugin-fr_feature-0.0.1").stream()
                .map(f -> new EmbeddingStore.Face("inbox_51d40f41e72c", f.filename(), f.filepath(), f.mu(), f.sigmaSq(),
                        f.detScore(), f.bbox(), f.quality(), f.model())).toList());
        KitException e = assertThrows(KitException.class, () -> run(dir, null, false, null));
        assertTrue(e.getMessage().contains("different embedding models"), e.getMessage());
        assertTrue(e.getMessage().contains("w600k_r50") && e.getMessage().contains("faceplugin-fr_feature-0.0.1"), e.getMessage());
        assertTrue(e.fix().contains("./jbang steps/reembed.java"), e.fix());
        assertFalse(Files.exists(dir.resolve("proposals.json")));
    }

    @Test
    void aFaceUnderThirtyPixelsIsKeptButNeverProposed(@TempDir Path dir) throws Exception {
        seed(dir);
        List<Matcher.Proposal> before = run(dir, 1.05, false, null).plan().proposals();
        String face = before.get(0).faceId();
        // The same face, vector and all, as if the detector had found it only 20 px wide.
        EmbeddingStore store = EmbeddingStore.open(dir);
        EmbeddingStore.Face f = store.get(face);
        float[] b = f.bbox();
        store.append(List.of(new EmbeddingStore.Face(face, f.filename(), f.filepath(), f.mu(), f.sigmaSq(), f.detScore(),
                new float[] {b[0], b[1], b[0] + 20, b[1] + 24}, f.quality(), f.model())));
        List<Matcher.Proposal> after = run(dir, 1.05, false, null).plan().proposals();
        assertTrue(after.stream().noneMatch(p -> p.faceId().equals(face)), "a low-quality face is never proposed: " + face);
        assertEquals(before.size() - 1, after.size(), "every other proposal stays");
        assertNotNull(EmbeddingStore.open(dir).get(face), "the face is still stored");
    }

    @Test
    void theMatrixKernelAgreesWithABruteForceReferenceOnBothEngines() {
        // Several blocks of new faces, identity runs of uneven length, rows not a multiple of 4, exclusions.
        Random r = new Random(42);
        int dims = 64, identities = 37, nb = DistanceTerms.blockRows(1) + 45;
        List<Integer> rowId = new ArrayList<>();
        for (int c = 0; c < identities; c++) for (int k = 0; k <= c % 5; k++) rowId.add(c);
        int na = rowId.size();
        float[] a = new float[na * dims], b = new float[nb * dims];
        for (int i = 0; i < na; i++) System.arraycopy(EmbeddingStoreTest.unit(r, dims), 0, a, i * dims, dims);
        for (int j = 0; j < nb; j++) {
            // half the new faces sit near some archive face, so best and second are meaningful
            float[] v = j % 2 == 0 ? EmbeddingStoreTest.nudge(java.util.Arrays.copyOfRange(a, (j % na) * dims, (j % na + 1) * dims), 0.3, j)
                    : EmbeddingStoreTest.unit(r, dims);
            System.arraycopy(v, 0, b, j * dims, dims);
        }
        int[][] excluded = new int[identities][];
        excluded[3] = new int[] {0, 5, DistanceTerms.blockRows(1) + 1};
        excluded[10] = new int[] {2, 4};
        int[] rows = rowId.stream().mapToInt(Integer::intValue).toArray();
        try (DistanceTerms.Engine onnx = DistanceTerms.await(DistanceTerms.loadInBackground())) {
            assertTrue(onnx.onnxRuntime(), "ONNX Runtime loads here: " + onnx.fallbackReason);
            NearestIdentities.Nearest got = NearestIdentities.find(vectors(a, dims), rows, identities, vectors(b, dims), excluded, onnx);
            assertSameChoice(NearestIdentities.find(vectors(a, dims), rows, identities, vectors(b, dims), excluded, DistanceTerms.javaLoops()), got);
            for (int j = 0; j < nb; j++) {
                double best = Double.POSITIVE_INFINITY, second = Double.POSITIVE_INFINITY;
                int bestC = -1;
                for (int c = 0; c < identities; c++) {
                    final int jj = j;
                    if (excluded[c] != null && java.util.Arrays.stream(excluded[c]).anyMatch(x -> x == jj)) continue;
                    double m = Double.POSITIVE_INFINITY;
                    for (int i = 0; i < na; i++) if (rows[i] == c) m = Math.min(m, FaceDistances.euclidean(a, i * dims, b, j * dims, dims));
                    if (m < best) {
                        second = best;
                        best = m;
                        bestC = c;
                    } else if (m < second) second = m;
                }
                assertEquals(bestC, got.best[j], "best identity of new face " + j);
                assertEquals(best, Math.sqrt(Math.max(0, got.bestD2[j])), 1e-5);
                assertEquals(second, Math.sqrt(Math.max(0, got.secondD2[j])), 1e-5);
            }
        }
    }

    @Test
    void closeCallsAndExactTiesAreDecidedTheSameWayByBothEngines() {
        // Identities that are copies of one another (exact ties: the earlier identity wins) and copies
        // moved by a few float steps (closer than the engines' rounding differences): the bulk products
        // cannot tell them apart, the exact recomputation must, identically on both engines.
        Random r = new Random(7);
        int dims = 512, base = 40, identities = base * 3, nb = 300;
        float[] a = new float[identities * dims];
        int[] rows = new int[identities];
        for (int c = 0; c < base; c++) {
            float[] v = EmbeddingStoreTest.unit(r, dims);
            for (int copy = 0; copy < 3; copy++) {
                int row = copy * base + c;
                rows[row] = row;
                for (int k = 0; k < dims; k++) a[row * dims + k] = copy == 2 ? Math.nextUp(v[k]) : v[k];
            }
        }
        float[] b = new float[nb * dims];
        for (int j = 0; j < nb; j++) {
            float[] v = EmbeddingStoreTest.nudge(java.util.Arrays.copyOfRange(a, (j % base) * dims, (j % base + 1) * dims), 0.05 + 0.001 * (j % 7), j);
            System.arraycopy(v, 0, b, j * dims, dims);
        }
        int[][] excluded = new int[identities][];
        try (DistanceTerms.Engine onnx = DistanceTerms.await(DistanceTerms.loadInBackground())) {
            assertTrue(onnx.onnxRuntime(), "ONNX Runtime loads here: " + onnx.fallbackReason);
            NearestIdentities.Nearest viaOnnx = NearestIdentities.find(vectors(a, dims), rows, identities, vectors(b, dims), excluded, onnx);
            NearestIdentities.Nearest viaJava = NearestIdentities.find(vectors(a, dims), rows, identities, vectors(b, dims), excluded, DistanceTerms.javaLoops());
            assertSameChoice(viaJava, viaOnnx);
            for (int j = 0; j < nb; j++) {
                int c = j % base;
                // the exact copy ties with the original: the original (earlier) is best, the copy second
                assertTrue(viaOnnx.best[j] == c || viaOnnx.best[j] == 2 * base + c, "new face " + j + " -> " + viaOnnx.best[j]);
                if (viaOnnx.best[j] == c) assertEquals(base + c, viaOnnx.second[j], "the exact copy comes second, new face " + j);
            }
        }
    }

    @Test
    void anIdentityWithMoreFacesThanTheKeptSmallestTermsIsDecidedTheSameWay() {
        // One person with 150 faces all near the new faces: the 64 smallest terms are all theirs, so
        // the second-nearest must come from the full scan of every term.
        Random r = new Random(11);
        int dims = 512, big = 150, others = 30, nb = 40;
        int rowsTotal = big + others * 2;
        float[] a = new float[rowsTotal * dims];
        int[] rows = new int[rowsTotal];
        float[] centre = EmbeddingStoreTest.unit(r, dims);
        for (int i = 0; i < big; i++) {
            rows[i] = 0;
            System.arraycopy(EmbeddingStoreTest.nudge(centre, 0.2, 1000 + i), 0, a, i * dims, dims);
        }
        for (int c = 1; c <= others; c++) {
            float[] v = EmbeddingStoreTest.unit(r, dims);
            for (int k = 0; k < 2; k++) {
                int i = big + (c - 1) * 2 + k;
                rows[i] = c;
                System.arraycopy(EmbeddingStoreTest.nudge(v, 0.1, 2000 + i), 0, a, i * dims, dims);
            }
        }
        float[] b = new float[nb * dims];
        for (int j = 0; j < nb; j++) System.arraycopy(EmbeddingStoreTest.nudge(centre, 0.15, 3000 + j), 0, b, j * dims, dims);
        int[][] excluded = new int[others + 1][];
        excluded[0] = new int[] {3};   // face 3 may not go to the big identity: its choice is among the others
        try (DistanceTerms.Engine onnx = DistanceTerms.await(DistanceTerms.loadInBackground())) {
            assertTrue(onnx.onnxRuntime(), "ONNX Runtime loads here: " + onnx.fallbackReason);
            NearestIdentities.Nearest viaOnnx = NearestIdentities.find(vectors(a, dims), rows, others + 1, vectors(b, dims), excluded, onnx);
            assertSameChoice(NearestIdentities.find(vectors(a, dims), rows, others + 1, vectors(b, dims), excluded, DistanceTerms.javaLoops()), viaOnnx);
            for (int j = 0; j < nb; j++) {
                if (j == 3) assertNotEquals(0, viaOnnx.best[j], "an excluded identity is never chosen");
                else assertEquals(0, viaOnnx.best[j], "new face " + j + " is nearest the big identity");
                assertTrue(viaOnnx.second[j] > 0, "and has a second identity: new face " + j);
            }
        }
    }

    /** Rows of a flat row-major matrix, as the store keeps its vectors. */
    private static float[][] vectors(float[] flat, int dims) {
        float[][] rows = new float[flat.length / dims][];
        for (int i = 0; i < rows.length; i++) rows[i] = java.util.Arrays.copyOfRange(flat, i * dims, (i + 1) * dims);
        return rows;
    }

    private static void assertSameChoice(NearestIdentities.Nearest want, NearestIdentities.Nearest got) {
        assertArrayEquals(want.best, got.best, "best identities");
        assertArrayEquals(want.second, got.second, "second identities");
        assertArrayEquals(want.bestD2, got.bestD2, "best squared distances, bit for bit");
        assertArrayEquals(want.secondD2, got.secondD2, "second squared distances, bit for bit");
    }

    @Test
    void theCommandLineSpeaksJsonOnStdoutAndRefusesBadOptions(@TempDir Path dir) throws Exception {
        seed(dir);
        var r = KitProcess.run("steps/cluster_new_faces.java", "--data-dir", dir.toString(), "--threshold", "1.25", "--json");
        assertEquals(0, r.exitCode(), r.all());
        JsonNode summary = JsonFiles.parse(r.stdout(), "stdout");
        assertEquals(24, summary.at("/plan/proposal_count").asInt());
        assertEquals(24, summary.at("/plan/proposals").size());
        assertTrue(Files.exists(Path.of(summary.at("/plan/review_page").asText())));
        assertTrue(r.stderr().contains("Nothing has been applied"), r.stderr());
        assertTrue(r.stderr().contains("AMBIGUOUS"), "the table flags ambiguous proposals");
        assertTrue(r.stderr().contains("review page: " + summary.at("/plan/review_page").asText()), "the page's path is printed");

        var bad = KitProcess.run("steps/cluster_new_faces.java", "--data-dir", dir.toString(), "--dry-run", "--execute");
        assertEquals(2, bad.exitCode(), bad.all());
    }

    /** Every file under {@code dir} but the reports (proposals.json, review/), with the MD5 of its bytes. */
    static Map<String, String> archiveSnapshot(Path dir) throws Exception {
        Map<String, String> out = new java.util.TreeMap<>();
        try (var s = Files.walk(dir)) {
            for (Path p : s.filter(Files::isRegularFile).toList()) {
                String rel = dir.relativize(p).toString();
                if (rel.equals("proposals.json") || rel.startsWith("review")) continue;
                out.put(rel, Checksums.md5Hex(p));
            }
        }
        return out;
    }

    @Test
    void clusterAndClusterDryRunChangeNothingButTheReports(@TempDir Path dir) throws Exception {
        seed(dir);
        // a segmented embedding store (with a face no identity holds) and a job ledger, besides the two documents
        EmbeddingStore store = EmbeddingStore.open(dir);
        store.append(EmbeddingStoreTest.faces("unreferenced_face", 1, 7, "w600k_r50"));
        JobLedger ledger = JobLedger.open(dir.resolve("runs"), KitContext.Mode.APPLY);
        ledger.recordDownload("job00001", Map.of("job00001/a.jpg", 5L), List.of());
        ledger.mark(List.of("job00001"), JobLedger.Milestone.INGESTED);
        assertTrue(Files.isDirectory(store.folder()) && Files.isRegularFile(dir.resolve("runs/jobs.json")));
        Map<String, String> before = archiveSnapshot(dir);
        assertTrue(before.keySet().containsAll(List.of("identities.json", "photo_index.json", "runs/jobs.json")), before.toString());
        for (String[] args : new String[][] {{"--data-dir", dir.toString(), "--dry-run"}, {"--data-dir", dir.toString()}}) {
            var r = KitProcess.run("steps/cluster_new_faces.java", args);
            assertEquals(0, r.exitCode(), r.all());
            assertTrue(r.stdout().contains("Nothing has been applied"), r.stdout());
            assertEquals(before, archiveSnapshot(dir), "identities.json, photo_index.json, the store and the ledger, byte for byte: " + String.join(" ", args));
        }
        assertTrue(Files.isRegularFile(dir.resolve("proposals.json")), "the reports are written all the same");
        try (var pages = Files.list(dir.resolve("review"))) {
            assertEquals(2, pages.count());
        }
    }

    @Test
    void helpListsEveryOptionAndSaysHowProposalsAreDecided() throws Exception {
        var help = KitProcess.run("steps/cluster_new_faces.java", "--help");
        assertEquals(0, help.exitCode(), help.all());
        for (String o : List.of("--execute", "--dry-run", "--threshold", "--limit", "--data-dir", "--photos-dir", "--crops-dir",
                "--models-dir", "--json", "--help")) {
            assertTrue(help.stdout().contains(o), o + " in --help: " + help.stdout());
        }
        assertTrue(help.stdout().contains("./jbang review") && help.stdout().contains("ALL"), help.stdout());
        for (String[] bad : new String[][] {{"--threshold", "0"}, {"--threshold", "2.5"}, {"--limit", "0"}}) {
            assertEquals(2, KitProcess.run("steps/cluster_new_faces.java", bad).exitCode(), String.join(" ", bad));
        }
    }

    // ------------------------------------------------------------------ helpers

    /** Replaces fresh timestamps by "<now>" where the expected document has that placeholder. */
    static void maskNow(ObjectNode got, JsonNode want) {
        Iterator<Map.Entry<String, JsonNode>> it = want.get("identities").fields();
        while (it.hasNext()) {
            var e = it.next();
            JsonNode w = e.getValue();
            if ("<now>".equals(w.path("updated_at").asText())) {
                ObjectNode g = (ObjectNode) got.get("identities").get(e.getKey());
                assertTrue(g.get("updated_at").asText().matches(TIMESTAMP), g.get("updated_at").asText());
                g.put("updated_at", "<now>");
            }
        }
    }

    /** Equal as JSON values (numbers by value, so 0.791 equals 0.7910). */
    static void assertJsonEquals(JsonNode want, JsonNode got, String what) {
        String diff = diff(want, got, "$");
        assertNull(diff, what + ": " + diff);
    }

    static String diff(JsonNode w, JsonNode g, String path) {
        if (w.isNumber() && g != null && g.isNumber()) return w.decimalValue().compareTo(g.decimalValue()) == 0 ? null : path + ": want " + w + ", got " + g;
        if (g == null || w.getNodeType() != g.getNodeType()) return path + ": want " + w + ", got " + g;
        if (w.isObject()) {
            if (w.size() != g.size()) return path + ": want keys " + names(w) + ", got " + names(g);
            for (var it = w.fields(); it.hasNext(); ) {
                var e = it.next();
                String d = diff(e.getValue(), g.get(e.getKey()), path + "." + e.getKey());
                if (d != null) return d;
            }
            return null;
        }
        if (w.isArray()) {
            if (w.size() != g.size()) return path + ": want " + w.size() + " items, got " + g.size();
            for (int i = 0; i < w.size(); i++) {
                String d = diff(w.get(i), g.get(i), path + "[" + i + "]");
                if (d != null) return d;
            }
            return null;
        }
        return w.equals(g) ? null : path + ": want " + w + ", got " + g;
    }

    static List<String> names(JsonNode n) {
        List<String> out = new ArrayList<>();
        n.fieldNames().forEachRemaining(out::add);
        return out;
    }
}
