import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * ./jbang calibrate on an archive whose pair distances are known by construction: every face is
 * a unit vector c·g + s·u on basis vectors (g shared by a person, u the face's own), so two faces
 * of one person are sqrt(2 - 2·c1·c2) apart and faces of unrelated people sqrt(2) apart; three
 * one-face "relatives" share a person's g and so come closer to that person than strangers.
 *
 * <pre>
 * same pairs (31): 0.305 0.405 0.505 0.605 x22 (a person with 7 faces + one with 2) 0.705 0.805 0.905 1.005 1.105 1.205
 * other pairs: 0.955 x2, 1.055 x2, 1.155 x2, the rest 1.414
 * → VERY HIGH 0.61 (recall 3/31 = 9.7% below it), HIGH 0.95 (the first other pair is 0.955),
 *   MODERATE 0.95 (28/30 = 93.3% at 0.96), MEDIUM 1.15 (30/34 = 88.2%; 83.3% at 1.16),
 *   LOW 1.41 (31/37 = 83.8%; 7% once the strangers count), GROUPING 0.90 (HIGH - 0.05)
 * </pre>
 */
class CalibrateTest {
    static final String MODEL = "test-model";
    static final double[] EXPECTED = {0.61, 0.95, 0.95, 1.15, 1.41, 0.90};

    /** One face: coefficient c on the person's shared direction g, the rest on its own direction. */
    record F(String person, int g, double c) {}

    static double coefficient(double sameDistance) {
        return Math.sqrt(1 - sameDistance * sameDistance / 2);
    }

    /** The relative's coefficient y on g so that it is {@code cross} away from faces with coefficient c. */
    static double relative(double c, double cross) {
        return (2 - cross * cross) / (2 * c);
    }

    static List<F> knownFaces(int people) {
        List<F> out = new ArrayList<>();
        for (int i = 0; i < 7; i++) out.add(new F("P0", 0, coefficient(0.605)));
        double[] same = {0.305, 0.405, 0.505, 0.605, 0.705, 0.805, 0.905, 1.005, 1.105, 1.205};
        for (int k = 0; k < Math.min(people - 1, same.length); k++) {
            out.add(new F("P" + (k + 1), k + 1, coefficient(same[k])));
            out.add(new F("P" + (k + 1), k + 1, coefficient(same[k])));
        }
        if (people > 10) {
            double[] cross = {0.955, 1.055, 1.155};
            for (int k = 0; k < 3; k++) out.add(new F("Q" + (8 + k), 8 + k, relative(coefficient(same[7 + k]), cross[k])));
        }
        return out;
    }

    /** data/ with identities.json (the people CONFIRMED, plus identities calibrate must ignore) and the embedding store. */
    static Path archive(Path dir, List<F> faces) throws Exception {
        Path data = Files.createDirectories(dir.resolve("data"));
        ObjectNode ids = ArchiveFiles.emptyIdentities();
        ObjectNode all = (ObjectNode) ids.get("identities");
        List<EmbeddingStore.Face> stored = new ArrayList<>();
        int unique = 100;
        for (int i = 0; i < faces.size(); i++) {
            F f = faces.get(i);
            String fid = "inbox_" + String.format("%012d", i);
            float[] v = new float[512];
            v[f.g()] = (float) f.c();
            v[unique++] = (float) Math.sqrt(1 - f.c() * f.c());
            stored.add(new EmbeddingStore.Face(fid, "p" + i + ".jpg", "raw_photos/p" + i + ".jpg", v, 0.1f, 0.99f, new float[] {0, 0, 50, 50}, 3f, MODEL));
            ObjectNode ident = all.has(f.person()) ? (ObjectNode) all.get(f.person()) : all.putObject(f.person());
            ident.put("identity_id", f.person());
            ident.put("name", "Person " + f.person());
            ident.put("state", "CONFIRMED");
            // anchors as objects and as strings, then candidates: all count as the person's faces
            if (!ident.has("anchor_ids")) ident.putArray("anchor_ids").addObject().put("face_id", fid);
            else ident.withArray("candidate_ids").add(fid);
        }
        // Faces that would wreck the figures if counted: a merged-away CONFIRMED identity and an INBOX one
        // holding faces of two different people, and faces of another model.
        for (String[] bad : new String[][] {{"merged", "CONFIRMED"}, {"inbox", "INBOX"}}) {
            ObjectNode ident = all.putObject(bad[0]);
            ident.put("identity_id", bad[0]);
            ident.put("name", bad[0]);
            ident.put("state", bad[1]);
            if (bad[0].equals("merged")) ident.put("merged_into", "P1");
            ident.putArray("anchor_ids").add("inbox_000000000000").add("inbox_000000000008");
        }
        float[] other = new float[512];
        other[500] = 1;
        stored.add(new EmbeddingStore.Face("inbox_othermodel01", "x.jpg", "raw_photos/x.jpg", other, 0.1f, 0.99f, new float[] {0, 0, 50, 50}, 3f, "w600k_r50"));
        all.withObject("/P2").withArray("candidate_ids").add("inbox_othermodel01");
        JsonFiles.write(data.resolve(ArchiveFiles.IDENTITIES), ids);
        EmbeddingStore.open(data).append(stored);
        return data;
    }

    static Path modelsDir(Path dir) throws Exception {
        Path models = Files.createDirectories(dir.resolve("models"));
        ObjectNode doc = JsonFiles.object();
        doc.put("schema_version", 1);
        doc.putObject("models");
        doc.putObject("active");
        doc.set("thresholds", ModelCatalog.thresholdsNode());
        doc.put("kept", "a key calibrate does not know");
        JsonFiles.write(ModelCatalog.file(models), doc);
        return models;
    }

    /** Runs the step as ./jbang calibrate --model test-model [--write] does, on this archive. */
    static int run(Path data, Path models, TestConsole console, String... extra) throws Exception {
        boolean write = List.of(extra).contains("--write");
        KitContext ctx = TestContext.under(data.getParent(), Map.of(), console.console, write ? KitContext.Mode.APPLY : KitContext.Mode.DRY_RUN);
        ctx = ctx.withLayout(ctx.layout().withData(data).withModels(models));
        return StepRunner.runScript(new CalibrateStep(new CalibrateStep.Options(MODEL)), ctx);
    }

    @Test
    void pairsOfKnownDistancesGiveTheKnownThresholds() {
        Calibration.Pairs p = new Calibration.Pairs(
                new double[] {0.305, 0.405, 0.505, 0.605, 0.705, 0.805, 0.905, 1.005, 1.105, 1.205},
                new double[] {0.955, 0.955, 1.055, 1.055, 1.155, 1.155, 1.414, 1.414, 1.414, 1.414, 1.414, 1.414, 1.414, 1.414});
        Calibration.Proposal got = Calibration.propose(p);
        // recall 10% at 0.31; HIGH below 0.955; at 0.96 precision 7/9 = 78% (< 94%, < 87%); at 1.06 8/12 = 67% (< 69%)
        assertArrayEquals(new double[] {0.31, 0.95, 0.95, 0.95, 1.05, 0.90}, got.values(), 1e-9);
        Calibration.Point at = Calibration.at(p, 1.01);
        assertEquals(8, at.samePairs());
        assertEquals(2, at.otherPairs());
        assertEquals(0.8, at.precision(), 1e-9);
        assertEquals(0.8, at.recall(), 1e-9);
    }

    @Test
    void calibrateOnAnArchiveOfKnownPairsWritesTheKnownThresholdsForThatModelOnly(@TempDir Path dir) throws Exception {
        Path data = archive(dir, knownFaces(11));
        Path models = modelsDir(dir);
        ObjectNode before = JsonFiles.readObject(ModelCatalog.file(models));

        // print only by default: the table, nothing written
        TestConsole c1 = new TestConsole();
        assertEquals(0, run(data, models, c1));
        assertEquals(before, JsonFiles.readObject(ModelCatalog.file(models)));
        assertFalse(Files.exists(models.resolve("backups")), "no backup in a print-only run");
        assertTrue(c1.text().contains("14 confirmed people") && c1.text().contains("31 same-person"), c1.text());

        TestConsole c2 = new TestConsole();
        assertEquals(0, run(data, models, c2, "--write"));
        ObjectNode after = JsonFiles.readObject(ModelCatalog.file(models));
        JsonNode t = after.get("thresholds").get(MODEL);
        String[] keys = {"very_high", "high", "moderate", "medium", "low", "grouping"};
        for (int i = 0; i < keys.length; i++) assertEquals(EXPECTED[i], t.get(keys[i]).asDouble(), 1e-9, keys[i]);
        assertEquals(ModelCatalog.CALIBRATE, t.get(ModelCatalog.CALIBRATED_BY).asText());
        // only that model's entry changed
        ObjectNode expected = before.deepCopy();
        ((ObjectNode) expected.get("thresholds")).set(MODEL, t);
        assertEquals(expected, after);
        // the previous file was kept
        try (var s = Files.list(models.resolve("backups"))) {
            List<Path> backups = s.toList();
            assertEquals(1, backups.size());
            assertEquals(before, JsonFiles.readObject(backups.get(0)));
        }
        // matching reads them
        MatchThresholds m = MatchThresholds.forModel(MODEL, models);
        assertEquals(0.95, m.high, 1e-9);
        assertEquals(0.90, m.grouping, 1e-9);
        // and fetch_models' merge keeps the archive's own calibration over the kit's built-in figures
        ObjectNode calibratedBuiltIn = after.get("thresholds").deepCopy();
        ((ObjectNode) calibratedBuiltIn.get("w600k_r50")).put("high", 0.99).put(ModelCatalog.CALIBRATED_BY, ModelCatalog.CALIBRATE);
        assertEquals(0.99, ModelCatalog.thresholdsNode(calibratedBuiltIn).get("w600k_r50").get("high").asDouble());
        assertEquals(1.05, ModelCatalog.thresholdsNode(after.get("thresholds")).get("w600k_r50").get("high").asDouble());
    }

    @Test
    void tooFewConfirmedPeopleSaysSoAndChangesNothing(@TempDir Path dir) throws Exception {
        Path data = archive(dir, knownFaces(4));   // P0..P3: 4 people with 2 faces or more
        Path models = modelsDir(dir);
        byte[] before = Files.readAllBytes(ModelCatalog.file(models));
        TestConsole c = new TestConsole();
        assertEquals(0, run(data, models, c, "--write"));
        assertTrue(c.text().contains("Too few confirmed people") && c.text().contains("4 with 2 faces or more"), c.text());
        assertArrayEquals(before, Files.readAllBytes(ModelCatalog.file(models)));
        assertFalse(Files.exists(models.resolve("backups")));
    }

    @Test
    void writeAndDryRunTogetherAreAUsageError(@TempDir Path dir) throws Exception {
        Path data = archive(dir, knownFaces(11));
        assertEquals(StepMain.USAGE, StepMain.run(new calibrate(), "--data-dir", data.toString(), "--models-dir", modelsDir(dir).toString(),
                "--model", MODEL, "--write", "--dry-run"));
    }
}
