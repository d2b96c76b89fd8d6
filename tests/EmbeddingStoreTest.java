import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EmbeddingStoreTest {
    static final Path LEGACY = KitProcess.root().resolve("../shared/fixtures/legacy-archive").normalize();
    static final Path NUMPY1 = LEGACY.resolve("data/embeddings.npy");
    static final Path NUMPY2 = LEGACY.resolve("embeddings.numpy2.npy");

    /**
     * sha256 over every face of the fixture, computed independently with Python's own pickle
     * module (stand-in classes for NumPy's): per face the UTF-8 face id (from the file, or the
     * "<stem>:face<i>" rule), filename and filepath each followed by NUL; det_score, the 4 bbox
     * values and quality as big-endian float64; sigma_sq as big-endian float32 (1 - 0.9*det_score
     * for the very old entry); then the 512 little-endian float32 of mu (or "embedding").
     */
    static final String FIXTURE_DIGEST = "83f79ddf7a44b669584beca1ae16957ac8f3f87d2f1088b241c01ed183ab70e9";

    static String digest(EmbeddingStore store) throws Exception {
        MessageDigest h = MessageDigest.getInstance("SHA-256");
        for (EmbeddingStore.Face f : store.faces()) {
            for (String s : new String[] {f.faceId(), f.filename(), f.filepath()}) {
                h.update(s.getBytes(StandardCharsets.UTF_8));
                h.update((byte) 0);
            }
            JsonNode m = store.metadata(f.faceId()); // the original doubles
            ByteBuffer d = ByteBuffer.allocate(6 * 8 + 4).order(ByteOrder.BIG_ENDIAN);
            d.putDouble(m.get("det_score").doubleValue());
            for (JsonNode v : m.get("bbox")) d.putDouble(v.doubleValue());
            d.putDouble(m.get("quality").doubleValue());
            d.putFloat(f.sigmaSq());
            h.update(d.array());
            ByteBuffer mu = ByteBuffer.allocate(f.mu().length * 4).order(ByteOrder.LITTLE_ENDIAN);
            for (float v : f.mu()) mu.putFloat(v);
            h.update(mu.array());
        }
        return HexFormat.of().formatHex(h.digest());
    }

    static EmbeddingStore legacyStore(Path dir, Path npy) throws Exception {
        Files.copy(npy, dir.resolve(EmbeddingStore.LEGACY_FILE));
        return EmbeddingStore.open(dir);
    }

    @Test
    void bothNumpyFormsOfTheLegacyFileAreReadExactly(@TempDir Path a, @TempDir Path b) throws Exception {
        EmbeddingStore s1 = legacyStore(a, NUMPY1), s2 = legacyStore(b, NUMPY2);
        assertTrue(s1.isLegacy());
        assertEquals(85, s1.size());
        assertEquals(85, s2.size());
        assertEquals(FIXTURE_DIGEST, digest(s1), "NumPy 1 file (numpy.core.multiarray)");
        assertEquals(FIXTURE_DIGEST, digest(s2), "NumPy 2 file (numpy._core.multiarray)");
        assertEquals(java.util.Set.of("w600k_r50"), s1.models());
    }

    @Test
    void legacyFaceIdsAndFieldsFollowTheSpec(@TempDir Path dir) throws Exception {
        EmbeddingStore s = legacyStore(dir, NUMPY1);
        // Every face id is one the archive's photo index knows, in file order.
        ObjectNode index = JsonFiles.readObject(LEGACY.resolve("data/photo_index.json"));
        for (EmbeddingStore.Face f : s.faces()) assertTrue(index.path("face_to_photo").has(f.faceId()), f.faceId());
        assertEquals("Image 001_compress:face0", s.faces().get(0).faceId());

        // No face_id in the file: "<stem>:face<i>", i counting that filename's entries (the 2nd of Image 025).
        EmbeddingStore.Face second = s.get("Image 025_compress:face1");
        assertNotNull(second);
        assertEquals("Image 025_compress.jpg", second.filename());
        assertEquals(0.9f, second.detScore());
        assertEquals(0.109f, second.sigmaSq(), 1e-6);

        // Uploaded faces carry their own inbox_ id.
        assertNotNull(s.get("inbox_258fc7a9a92f"));
        assertEquals("raw_photos/Image 001_compress.jpg", s.faces().get(0).filepath());

        // The very old entry: "embedding" instead of mu, sigma_sq = 1 - 0.9 * det_score.
        EmbeddingStore.Face old = s.get("Image 047_compress:face0");
        assertEquals(0.010767628438770771f, old.mu()[0]);
        assertEquals(0.04993074759840965f, old.mu()[1]);
        assertEquals((float) (1 - 0.9 * 0.7349416805835809), old.sigmaSq());

        // Detection facts, and full-precision originals kept beside the floats.
        EmbeddingStore.Face first = s.faces().get(0);
        assertArrayEquals(new float[] {683.8834012558152f, 135.10939353295868f, 821.3456277192936f, 300.0640652891327f}, first.bbox());
        assertEquals(683.8834012558152, s.metadata(first.faceId()).get("bbox").get(0).doubleValue());
        assertEquals(0.6805941207129124, s.metadata(first.faceId()).get("det_score").doubleValue());
        assertEquals(27.159876521945957f, first.quality());
        assertEquals(0.3262118101119995f, first.sigmaSq());
        for (EmbeddingStore.Face f : s.faces()) {
            assertEquals(512, f.mu().length);
            double n = 0;
            for (float v : f.mu()) n += v * v;
            assertEquals(1.0, Math.sqrt(n), 1e-4, f.faceId() + " is L2-normalised");
        }
    }

    /**
     * A legacy file where InsightFace's numpy.float32 values were pickled as NumPy scalars and the
     * bbox as a float32 array (made with Python's pickle and stand-ins for NumPy's classes, which
     * reduce exactly as NumPy's do): two faces of "scan 7.tif", the second a very old entry.
     */
    static final String SCALARS_NPY = "k05VTVBZAQB2AHsnZGVzY3InOiAnfE8nLCAnZm9ydHJhbl9vcmRlcic6IEZhbHNlLCAnc2hhcGUnOiAoMiwpLCB9ICAgICAgICAg" +
            "ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAqAA2NudW1weS5jb3JlLm11bHRpYXJy" +
            "YXkKX3JlY29uc3RydWN0CnEAY251bXB5Cm5kYXJyYXkKcQFLAIVxAkMBYnEDh3EEUnEFKEsBSwKFcQZjbnVtcHkKZHR5cGUKcQdY" +
            "AgAAAE84cQiJiIdxCVJxCihLA1gBAAAAfHELTk5OSv////9K/////0s/dHEMYoldcQ0ofXEOKFgIAAAAZmlsZW5hbWVxD1gKAAAA" +
            "c2NhbiA3LnRpZnEQWAgAAABmaWxlcGF0aHERWBMAAAAvb2xkL21hYy9zY2FuIDcudGlmcRJYCQAAAGRldF9zY29yZXETY251bXB5" +
            "LmNvcmUubXVsdGlhcnJheQpzY2FsYXIKcRRoB1gCAAAAZjRxFYmIh3EWUnEXKEsDWAEAAAA8cRhOTk5K/////0r/////SwB0cRli" +
            "QwQAAGA/cRqGcRtScRxYBAAAAGJib3hxHWgAaAFoAmgDh3EeUnEfKEsBSwSFcSBoB2gViYiHcSFScSIoSwNoGE5OTkr/////Sv//" +
            "//9LAHRxI2KJQxAAAMA/AAAgQAAA8kEAACNCcSR0cSViWAcAAABxdWFsaXR5cSZoFGgHaBWJiIdxJ1JxKChLA2gYTk5OSv////9K" +
            "/////0sAdHEpYkMEAACsQXEqhnErUnEsWAIAAABtdXEtaABoAWgCaAOHcS5ScS8oSwFLBIVxMGgHaBWJiIdxMVJxMihLA2gYTk5O" +
            "Sv////9K/////0sAdHEzYolDEAAAAD8AAAA/AAAAPwAAAD9xNHRxNWJYCAAAAHNpZ21hX3NxcTZoAGgBaAJoA4dxN1JxOChLAUsE" +
            "hXE5aAdoFYmIh3E6UnE7KEsDaBhOTk5K/////0r/////SwB0cTxiiUMQAACAPgAAgD4AAIA+AACAPnE9dHE+YlgEAAAAbm90ZXE/" +
            "WAQAAABrZXB0cUB1fXFBKGgPaBBoEWgSaBNHP+AAAAAAAABoHV1xQihHAAAAAAAAAABHAAAAAAAAAABHQCQAAAAAAABHQCQAAAAA" +
            "AABlaCZHQAgAAAAAAABYCQAAAGVtYmVkZGluZ3FDaABoAWgCaAOHcURScUUoSwFLBIVxRmgHaBWJiIdxR1JxSChLA2gYTk5OSv//" +
            "//9K/////0sAdHFJYolDEAAAgD8AAAAAAAAAAAAAAABxSnRxS2J1ZXRxTGIu";

    @Test
    void numpyScalarsAndArrayBboxesAreReadToo(@TempDir Path dir) throws Exception {
        Files.write(dir.resolve("embeddings.npy"), java.util.Base64.getDecoder().decode(SCALARS_NPY));
        EmbeddingStore s = EmbeddingStore.open(dir);
        assertEquals(List.of("scan 7:face0", "scan 7:face1"), s.faces().stream().map(EmbeddingStore.Face::faceId).toList());
        EmbeddingStore.Face a = s.get("scan 7:face0");
        assertEquals(0.875f, a.detScore());
        assertEquals(21.5f, a.quality());
        assertArrayEquals(new float[] {1.5f, 2.5f, 30.25f, 40.75f}, a.bbox());
        assertArrayEquals(new float[] {0.5f, 0.5f, 0.5f, 0.5f}, a.mu());
        assertEquals(0.25f, a.sigmaSq());
        assertEquals("/old/mac/scan 7.tif", a.filepath());
        assertEquals("kept", s.metadata("scan 7:face0").get("note").asText(), "unknown plain fields travel along");
        EmbeddingStore.Face b = s.get("scan 7:face1");
        assertArrayEquals(new float[] {1, 0, 0, 0}, b.mu());
        assertEquals((float) (1 - 0.9 * 0.5), b.sigmaSq());
    }

    @Test
    void appendImportsTheLegacyFacesOnceAndNeverTouchesTheLegacyFile(@TempDir Path dir) throws Exception {
        EmbeddingStore s = legacyStore(dir, NUMPY1);
        byte[] legacyBytes = Files.readAllBytes(dir.resolve("embeddings.npy"));
        List<EmbeddingStore.Face> added = faces("inbox_", 3, 7, "faceplugin-fr_feature-0.0.1");
        s.append(added);
        assertEquals(88, s.size());
        assertFalse(s.isLegacy());
        assertArrayEquals(legacyBytes, Files.readAllBytes(dir.resolve("embeddings.npy")));

        EmbeddingStore again = EmbeddingStore.open(dir);
        assertEquals(88, again.size());
        assertEquals(FIXTURE_DIGEST, digest(trimmed(again, 85)), "legacy faces survive the import exactly");
        assertEquals(java.util.Set.of("w600k_r50", "faceplugin-fr_feature-0.0.1"), again.models());
        assertFaceEquals(added.get(2), again.get(added.get(2).faceId()));
        ObjectNode manifest = JsonFiles.readObject(dir.resolve("embeddings/manifest.json"));
        assertEquals(2, manifest.get("segments").size());

        // A second append writes one new segment; the first two stay byte-identical.
        byte[] seg1 = Files.readAllBytes(dir.resolve("embeddings/seg-000001.npy"));
        again.append(faces("inbox_b", 2, 8, "faceplugin-fr_feature-0.0.1"));
        assertArrayEquals(seg1, Files.readAllBytes(dir.resolve("embeddings/seg-000001.npy")));
        assertEquals(3, JsonFiles.readObject(dir.resolve("embeddings/manifest.json")).get("segments").size());
        assertEquals(90, EmbeddingStore.open(dir).size());
    }

    @Test
    void segmentsAreReadableAsPlainNpyMatricesWithoutPickle(@TempDir Path dir) throws Exception {
        EmbeddingStore s = EmbeddingStore.open(dir);
        assertEquals(0, s.size());
        List<EmbeddingStore.Face> fs = faces("f", 5, 1, "m1");
        s.append(fs);
        byte[] npy = Files.readAllBytes(dir.resolve("embeddings/seg-000001.npy"));
        assertEquals((byte) 0x93, npy[0]);
        int hlen = (npy[8] & 0xff) | (npy[9] & 0xff) << 8;
        String header = new String(npy, 10, hlen, StandardCharsets.US_ASCII);
        assertTrue(header.startsWith("{'descr': '<f4', 'fortran_order': False, 'shape': (5, 512), }"), header);
        assertEquals(0, (10 + hlen) % 64, "data aligned as NumPy aligns it");
        assertEquals(10 + hlen + 5 * 512 * 4, npy.length);
        float first = ByteBuffer.wrap(npy, 10 + hlen, 4).order(ByteOrder.LITTLE_ENDIAN).getFloat();
        assertEquals(fs.get(0).mu()[0], first);
        List<String> lines = Files.readAllLines(dir.resolve("embeddings/seg-000001.jsonl"));
        assertEquals(5, lines.size());
        assertEquals("f0", JsonFiles.parse(lines.get(0), "line").get("face_id").asText());
        assertEquals("m1", JsonFiles.parse(lines.get(0), "line").get("model").asText());
    }

    @Test
    void appendingOnePhotoAtATimeKeepsFewSegmentsAndEveryFace(@TempDir Path dir) throws Exception {
        EmbeddingStore s = legacyStore(dir, NUMPY1);
        List<String> order = new ArrayList<>(s.faces().stream().map(EmbeddingStore.Face::faceId).toList());
        Map<String, EmbeddingStore.Face> want = new java.util.HashMap<>();
        for (int photo = 0; photo < 150; photo++) {
            List<EmbeddingStore.Face> fs = faces("inbox_p" + photo + "_", 1 + photo % 3, photo, "w600k_r50");
            s.append(fs);
            for (EmbeddingStore.Face f : fs) {
                order.add(f.faceId());
                want.put(f.faceId(), f);
            }
        }
        EmbeddingStore back = EmbeddingStore.open(dir);
        assertEquals(order, back.faces().stream().map(EmbeddingStore.Face::faceId).toList(), "store order survives merging");
        for (var e : want.entrySet()) assertFaceEquals(e.getValue(), back.get(e.getKey()));
        int segments = JsonFiles.readObject(dir.resolve("embeddings/manifest.json")).get("segments").size();
        assertTrue(segments <= 10, segments + " segments for 150 appends");
        try (var files = Files.list(dir.resolve("embeddings"))) {
            assertEquals(2L * segments + 1, files.count(), "merged segments' files are removed");
        }
        assertEquals(FIXTURE_DIGEST, digest(legacyOnly(back, 85)), "the legacy faces are still exact after many merges");
    }

    @Test
    void appendingAFaceIdAgainReplacesItInPlace(@TempDir Path dir) throws Exception {
        EmbeddingStore s = EmbeddingStore.open(dir);
        s.append(faces("f", 3, 1, "m"));
        EmbeddingStore.Face redo = faces("f", 2, 99, "m").get(1); // "f1" with another vector
        Files.writeString(dir.resolve("embeddings/seg-000099.npy"), "left by a crash before its manifest");
        s.append(List.of(redo));
        assertFalse(Files.exists(dir.resolve("embeddings/seg-000099.npy")), "an unlisted segment file is cleared away");
        EmbeddingStore back = EmbeddingStore.open(dir);
        assertEquals(List.of("f0", "f1", "f2"), back.faces().stream().map(EmbeddingStore.Face::faceId).toList());
        assertFaceEquals(redo, back.get("f1"));
    }

    /**
     * Issue 11 item 9a: an ingest that stopped after writing a photo's vectors but before its
     * photo_index.json entry (read-only data/, a crash) appends the same face ids again on the
     * re-run; they must replace the earlier rows on disk, not add second ones (77 rows for 50 ids).
     */
    @Test
    void aFaceIdAppendedAgainNeverGetsASecondRowOnDisk(@TempDir Path dir) throws Exception {
        EmbeddingStore s = EmbeddingStore.open(dir);
        s.append(faces("a", 8, 1, "m"));
        List<EmbeddingStore.Face> redo = faces("a", 8, 2, "m").subList(5, 8); // a5..a7 again, new vectors
        s.append(redo);
        s.append(faces("b", 2, 3, "m"));
        assertEquals(10, s.size());
        assertEquals(10, rowsOnDisk(dir), "one row per face id in the segments on disk");
        EmbeddingStore back = EmbeddingStore.open(dir);
        assertEquals(List.of("a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7", "b0", "b1"),
                back.faces().stream().map(EmbeddingStore.Face::faceId).toList());
        for (EmbeddingStore.Face f : redo) assertFaceEquals(f, back.get(f.faceId()));
    }

    /** A store an older kit left with second rows for some face ids is compacted by the next append. */
    @Test
    void secondRowsLeftOnDiskByAnOlderKitGoAtTheNextAppend(@TempDir Path dir) throws Exception {
        List<EmbeddingStore.Face> first = faces("a", 4, 1, "m"), again = faces("a", 4, 2, "m").subList(2, 4);
        Path folder = Files.createDirectories(dir.resolve("embeddings"));
        writeSegment(folder, "seg-000001", first);
        writeSegment(folder, "seg-000002", again);
        JsonFiles.write(folder.resolve("manifest.json"), JsonFiles.parse("{\"segments\": [{\"name\": \"seg-000001\", \"count\": 4, \"dims\": 512},"
                + " {\"name\": \"seg-000002\", \"count\": 2, \"dims\": 512}]}", "manifest"));
        EmbeddingStore s = EmbeddingStore.open(dir);
        assertEquals(4, s.size());
        assertFaceEquals(again.get(0), s.get("a2"));
        s.append(faces("b", 1, 3, "m"));
        assertEquals(5, rowsOnDisk(dir));
        EmbeddingStore back = EmbeddingStore.open(dir);
        assertEquals(List.of("a0", "a1", "a2", "a3", "b0"), back.faces().stream().map(EmbeddingStore.Face::faceId).toList());
        assertFaceEquals(again.get(1), back.get("a3"));
    }

    @Test
    void theStoresLinesAreReadAsAnyJsonReaderReadsThem(@TempDir Path dir) throws Exception {
        // Issue 13: the lines are streamed and their numbers read directly; each face must be what a
        // JSON tree of its line says, whatever the numbers' form and whatever the line's oddities.
        Random r = new Random(13);
        List<String> numbers = new ArrayList<>(List.of("0", "-0.0", "130", "0.98", "21.5", "1e-3", "2.5E+2", "-7.125",
                "0.1000000000000000055511151231257827", "123456789012345.6", "0.30000000000000004", "9007199254740993",
                "1.7976931348623157E308", "4.9E-324", "683.8834012558152", "0.6805941207129124"));
        for (int i = 0; i < 60; i++) numbers.add(Double.toString(r.nextGaussian() * Math.pow(10, r.nextInt(12) - 6)));
        for (int i = 0; i < 20; i++) numbers.add(Float.toString((float) (r.nextDouble() * 2000)));
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < numbers.size(); i++) {
            String n = numbers.get(i), m = numbers.get((i * 7 + 3) % numbers.size());
            String odd = switch (i % 5) {
                case 0 -> ", \"note\": {\"nested\": [1, {\"x\": \"y\"}]}";  // unknown fields travel along
                case 1 -> ", \"model\": null";                                  // not the usual type: the tree decides
                case 2 -> ", \"bbox\": [1, \"2\", 3, 4]";
                case 3 -> ", \"sigma_sq\": \"0.5\"";
                default -> "";
            };
            lines.add("{\"face_id\": \"f" + i + "\", \"filename\": \"x" + i + ".jpg\", \"sigma_sq\": " + n + ", \"det_score\": " + m
                    + ", \"bbox\": [" + n + ", " + m + ", " + n + ", " + m + "], \"quality\": " + n + odd + "}");
        }
        List<EmbeddingStore.Face> fs = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) fs.add(face("f" + i, unit(r, 512)));
        Path folder = Files.createDirectories(dir.resolve(EmbeddingStore.FOLDER));
        writeSegment(folder, "seg-000001", fs);
        Files.write(folder.resolve("seg-000001.jsonl"), lines);
        Files.writeString(folder.resolve(EmbeddingStore.MANIFEST),
                "{\"schema_version\": 1, \"segments\": [{\"name\": \"seg-000001\", \"count\": " + lines.size() + ", \"dims\": 512}]}");
        EmbeddingStore s = EmbeddingStore.open(dir);
        com.fasterxml.jackson.databind.ObjectMapper plain = new com.fasterxml.jackson.databind.ObjectMapper();
        for (int i = 0; i < lines.size(); i++) {
            JsonNode t = plain.readTree(lines.get(i));
            EmbeddingStore.Face f = s.get("f" + i);
            String at = lines.get(i);
            assertEquals(t.path("filename").asText(null), f.filename(), at);
            assertEquals(t.path("model").asText(EmbeddingStore.LEGACY_MODEL), f.model(), at);
            assertEquals((float) t.path("sigma_sq").asDouble(1.0), f.sigmaSq(), at);
            assertEquals((float) t.path("det_score").asDouble(0), f.detScore(), at);
            assertEquals((float) t.path("quality").asDouble(0), f.quality(), at);
            float[] bbox = new float[t.path("bbox").size()];
            for (int k = 0; k < bbox.length; k++) bbox[k] = (float) t.path("bbox").get(k).asDouble();
            assertArrayEquals(bbox, f.bbox(), at);
            assertEquals(t, s.metadata("f" + i), "the line itself, as read: " + at);
            assertArrayEquals(fs.get(i).mu(), f.mu());
        }
        // The direct reading of numbers is exact, not close: every form against the JDK's own parser.
        for (String n : numbers) {
            double want = Double.parseDouble(n);
            Files.write(folder.resolve("seg-000001.jsonl"), List.of("{\"face_id\": \"f\", \"quality\": " + n + ", \"bbox\": [" + n + "]}"));
            Files.writeString(folder.resolve(EmbeddingStore.MANIFEST),
                    "{\"schema_version\": 1, \"segments\": [{\"name\": \"seg-000001\", \"count\": 1, \"dims\": 512}]}");
            writeSegment(folder, "seg-tmp", fs.subList(0, 1));
            Files.move(folder.resolve("seg-tmp.npy"), folder.resolve("seg-000001.npy"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            EmbeddingStore one = EmbeddingStore.open(dir);
            assertEquals((float) want, one.get("f").quality(), n);
            assertEquals((float) want, one.get("f").bbox()[0], n);
        }
    }

    static void writeSegment(Path folder, String name, List<EmbeddingStore.Face> fs) throws Exception {
        List<String> lines = new ArrayList<>();
        for (EmbeddingStore.Face f : fs) lines.add("{\"face_id\": \"" + f.faceId() + "\", \"filename\": \"" + f.filename() + "\", \"filepath\": \""
                + f.filepath() + "\", \"model\": \"m\", \"sigma_sq\": " + f.sigmaSq() + ", \"det_score\": " + f.detScore()
                + ", \"bbox\": [" + f.bbox()[0] + ", " + f.bbox()[1] + ", " + f.bbox()[2] + ", " + f.bbox()[3] + "], \"quality\": " + f.quality() + "}");
        Files.write(folder.resolve(name + ".jsonl"), lines);
        ByteBuffer data = ByteBuffer.allocate(fs.size() * 512 * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (EmbeddingStore.Face f : fs) for (float v : f.mu()) data.putFloat(v);
        String dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + fs.size() + ", 512), }";
        String header = dict + " ".repeat(64 - 11 - dict.length() % 64 + (dict.length() + 11 > 64 ? 64 : 0)) + "\n";
        ByteBuffer all = ByteBuffer.allocate(10 + header.length() + data.capacity()).order(ByteOrder.LITTLE_ENDIAN);
        all.put((byte) 0x93).put("NUMPY".getBytes(StandardCharsets.US_ASCII)).put((byte) 1).put((byte) 0);
        all.putShort((short) header.length()).put(header.getBytes(StandardCharsets.US_ASCII)).put(data.array());
        Files.write(folder.resolve(name + ".npy"), all.array());
    }

    /** The rows of every segment the manifest lists, counted in the files themselves; fails on a face id written twice. */
    static int rowsOnDisk(Path dataDir) throws Exception {
        java.util.Set<String> seen = new java.util.HashSet<>();
        int rows = 0;
        for (JsonNode seg : JsonFiles.readObject(dataDir.resolve("embeddings/manifest.json")).get("segments")) {
            for (String line : Files.readAllLines(dataDir.resolve("embeddings/" + seg.get("name").asText() + ".jsonl"))) {
                rows++;
                String id = JsonFiles.parse(line, "line").get("face_id").asText();
                assertTrue(seen.add(id), "face id " + id + " has a second row on disk");
            }
        }
        return rows;
    }

    @Test
    void replaceAllRewritesTheStoreAndDropsOldSegments(@TempDir Path dir) throws Exception {
        EmbeddingStore s = legacyStore(dir, NUMPY2);
        s.append(faces("x", 2, 3, "w600k_r50"));
        List<EmbeddingStore.Face> fresh = faces("y", 4, 4, "faceplugin-fr_feature-0.0.1");
        s.replaceAll(fresh);
        EmbeddingStore back = EmbeddingStore.open(dir);
        assertEquals(4, back.size());
        assertEquals(java.util.Set.of("faceplugin-fr_feature-0.0.1"), back.models());
        for (int i = 0; i < 4; i++) assertFaceEquals(fresh.get(i), back.faces().get(i));
        try (var files = Files.list(dir.resolve("embeddings"))) {
            assertEquals(List.of("manifest.json", "seg-000003.jsonl", "seg-000003.npy"),
                    files.map(p -> p.getFileName().toString()).sorted().toList());
        }
        assertTrue(Files.exists(dir.resolve("embeddings.npy")), "the legacy file is never removed");

        // Re-embedding the legacy faces (new vectors, same detections) keeps their full-precision facts.
        EmbeddingStore legacy = legacyStore(Files.createDirectories(dir.resolve("again")), NUMPY1);
        List<EmbeddingStore.Face> redone = new ArrayList<>();
        for (EmbeddingStore.Face f : legacy.faces()) {
            redone.add(new EmbeddingStore.Face(f.faceId(), f.filename(), f.filepath(), unit(new Random(3), 512), f.sigmaSq(),
                    f.detScore(), f.bbox(), f.quality(), "faceplugin-fr_feature-0.0.1"));
        }
        legacy.replaceAll(redone);
        JsonNode m = EmbeddingStore.open(dir.resolve("again")).metadata("Image 001_compress:face0");
        assertEquals(683.8834012558152, m.get("bbox").get(0).doubleValue());
        assertEquals(0.6805941207129124, m.get("det_score").doubleValue());
        assertEquals("faceplugin-fr_feature-0.0.1", m.get("model").asText());

        // An empty store is a valid store.
        legacy.replaceAll(List.of());
        assertEquals(0, EmbeddingStore.open(dir.resolve("again")).size());
    }

    @Test
    void badFilesGiveAMessageNamingTheFile(@TempDir Path dir) throws Exception {
        byte[] legacy = Files.readAllBytes(NUMPY1);
        Files.write(dir.resolve("embeddings.npy"), java.util.Arrays.copyOf(legacy, legacy.length / 2));
        KitException e = assertThrows(KitException.class, () -> EmbeddingStore.open(dir));
        assertTrue(e.getMessage().contains("embeddings.npy"), e.getMessage());
        assertNotNull(e.fix());

        Files.writeString(dir.resolve("embeddings.npy"), "not numpy");
        e = assertThrows(KitException.class, () -> EmbeddingStore.open(dir));
        assertTrue(e.getMessage().contains("not a NumPy"), e.getMessage());

        // A pickle that asks for anything but NumPy's array helpers is refused, never run.
        byte[] evil = legacy.clone();
        int at = indexOf(evil, "numpy.core.multiarray\n_reconstruct".getBytes(StandardCharsets.US_ASCII));
        System.arraycopy("os\nsystem\n".getBytes(StandardCharsets.US_ASCII), 0, evil, at, 10);
        Files.write(dir.resolve("embeddings.npy"), evil);
        e = assertThrows(KitException.class, () -> EmbeddingStore.open(dir));
        assertTrue(e.getMessage().contains("os.system"), e.getMessage());

        Path d2 = dir.resolve("store");
        EmbeddingStore s = EmbeddingStore.open(d2);
        s.append(faces("f", 2, 1, "m"));
        Path npy = d2.resolve("embeddings/seg-000001.npy");
        Files.write(npy, java.util.Arrays.copyOf(Files.readAllBytes(npy), 500));
        e = assertThrows(KitException.class, () -> EmbeddingStore.open(d2));
        assertTrue(e.getMessage().contains("seg-000001.npy"), e.getMessage());
    }

    @Test
    void thresholdsComeFromModelsJsonWithTheArchiveValuesAsFallback(@TempDir Path models) throws Exception {
        MatchThresholds none = MatchThresholds.forModel("w600k_r50", models);
        assertEquals(1.05, none.high);
        assertEquals(0.95, none.grouping);
        assertTrue(none.calibrated);
        Files.writeString(models.resolve("models.json"), """
                {"schema_version": 1, "active": {"recognizer": "fr_feature"},
                 "models": {"fr_feature": {"embedding_model": "faceplugin-fr_feature-0.0.1"}},
                 "thresholds": {"faceplugin-fr_feature-0.0.1": {"very_high": 0.5, "high": 0.9, "moderate": 1.0,
                     "medium": 1.1, "low": 1.2, "grouping": 0.7, "calibration": "test"}}}""");
        MatchThresholds t = MatchThresholds.forModel("faceplugin-fr_feature-0.0.1", models);
        assertEquals(0.9, t.high);
        assertEquals(0.7, t.grouping);
        assertEquals("faceplugin-fr_feature-0.0.1", ModelCatalog.activeEmbeddingModelIfAny(models));
        assertEquals("VERY HIGH", t.label(0.49));
        assertEquals("HIGH", t.label(0.5));
        assertEquals("MODERATE", t.label(0.9));
        assertEquals("LOW", t.label(1.0));
        MatchThresholds w = MatchThresholds.forModel("w600k_r50", models);
        assertEquals(0.80, w.veryHigh);
        assertEquals("LOW", w.label(1.15));
        assertEquals("MODERATE", w.label(1.1499));
        MatchThresholds other = MatchThresholds.forModel("someone-elses-model", models);
        assertFalse(other.calibrated);
        assertEquals(1.05, other.high);
    }

    @Test
    void groupingJoinsTransitivelyButNeverTwoFacesOfOnePhoto() {
        // a-b close, b-c close, a-c far: one group by transitivity. d alone.
        float[] base = unit(new Random(1), 512);
        EmbeddingStore.Face a = face("a", nudge(base, 0.0, 2)), b = face("b", nudge(base, 0.6, 3)),
                c = face("c", nudge(nudge(base, 0.6, 3), 0.6, 4)), d = face("d", unit(new Random(9), 512));
        double ab = dist(a, b), bc = dist(b, c), ac = dist(a, c), t = 0.6;
        assertTrue(ab < t && bc < t && ac >= t, ab + " " + bc + " " + ac);
        Map<String, String> photos = Map.of("a", "p1", "b", "p2", "c", "p3", "d", "p4");
        assertEquals(List.of(List.of("a", "b", "c"), List.of("d")), FaceGrouping.group(List.of(a, b, c, d), photos, t));
        // c now in a's photo: the closest pair joins first, and c (or a) stays out of that group.
        Map<String, String> same = Map.of("a", "p1", "b", "p2", "c", "p1", "d", "p4");
        List<List<String>> g = FaceGrouping.group(List.of(a, b, c, d), same, t);
        for (List<String> group : g) assertFalse(group.contains("a") && group.contains("c"), g.toString());
        List<List<String>> want = ab <= dist(b, c)
                ? List.of(List.of("a", "b"), List.of("c"), List.of("d"))
                : List.of(List.of("a"), List.of("b", "c"), List.of("d"));
        assertEquals(want, g);
        assertEquals(List.of(), FaceGrouping.group(List.of(), Map.of(), 0.95));
    }

    // ------------------------------------------------------------------ helpers

    /** The first n faces of s, with s's metadata, as a store of their own (through the legacy import path). */
    static EmbeddingStore legacyOnly(EmbeddingStore s, int n) throws Exception {
        Path tmp = Files.createTempDirectory("first");
        List<String> lines = new ArrayList<>();
        for (EmbeddingStore.Face f : s.faces().subList(0, n)) lines.add(JsonFiles.compact(s.metadata(f.faceId())));
        Files.createDirectories(tmp.resolve("embeddings"));
        Files.write(tmp.resolve("embeddings/seg-000001.jsonl"), lines);
        Files.write(tmp.resolve("embeddings/seg-000001.npy"), NpyFloatMatrix.encode(s.faces().subList(0, n).stream().map(EmbeddingStore.Face::mu).toList(), 512));
        JsonFiles.write(tmp.resolve("embeddings/manifest.json"), JsonFiles.parse(
                "{\"segments\": [{\"name\": \"seg-000001\", \"count\": " + n + ", \"dims\": 512}]}", "manifest"));
        return EmbeddingStore.open(tmp);
    }

    /** The store s, with only its first n faces, keeping s's metadata: done by copying the store folder. */
    static EmbeddingStore trimmed(EmbeddingStore s, int n) throws Exception {
        Path tmp = Files.createTempDirectory("trim");
        Path seg = s.folder();
        Files.createDirectories(tmp.resolve("embeddings"));
        // The first segment of an imported store is exactly the legacy faces.
        for (String f : List.of("seg-000001.npy", "seg-000001.jsonl")) Files.copy(seg.resolve(f), tmp.resolve("embeddings").resolve(f));
        ObjectNode m = JsonFiles.readObject(seg.resolve("manifest.json"));
        var segs = m.withArray("segments");
        while (segs.size() > 1) segs.remove(segs.size() - 1);
        assertEquals(n, segs.get(0).get("count").asInt());
        JsonFiles.write(tmp.resolve("embeddings/manifest.json"), m);
        return EmbeddingStore.open(tmp);
    }

    static List<EmbeddingStore.Face> faces(String prefix, int n, long seed, String model) {
        Random r = new Random(seed);
        List<EmbeddingStore.Face> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(new EmbeddingStore.Face(prefix + i, "photo" + i + ".jpg", "raw_photos/photo" + i + ".jpg", unit(r, 512),
                    0.5f + i * 0.01f, 0.97f, new float[] {10 + i, 20, 110 + i, 140}, 2.25f, model));
        }
        return out;
    }

    static EmbeddingStore.Face face(String id, float[] mu) {
        return new EmbeddingStore.Face(id, id + ".jpg", id + ".jpg", mu, 0.5f, 0.99f, new float[] {0, 0, 10, 10}, 2f, "m");
    }

    static float[] unit(Random r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) r.nextGaussian();
        return normalise(v);
    }

    /** base plus noise of about the given length, renormalised. */
    static float[] nudge(float[] base, double amount, long seed) {
        float[] noise = unit(new Random(seed), base.length);
        float[] v = new float[base.length];
        for (int i = 0; i < v.length; i++) v[i] = (float) (base[i] + amount * noise[i]);
        return normalise(v);
    }

    static float[] normalise(float[] v) {
        return FaceEmbedder.normalise(v).mu();
    }

    static double dist(EmbeddingStore.Face x, EmbeddingStore.Face y) {
        return FaceDistances.euclidean(x.mu(), 0, y.mu(), 0, x.mu().length);
    }

    static void assertFaceEquals(EmbeddingStore.Face want, EmbeddingStore.Face got) {
        assertNotNull(got);
        assertEquals(want.faceId(), got.faceId());
        assertEquals(want.filename(), got.filename());
        assertEquals(want.filepath(), got.filepath());
        assertArrayEquals(want.mu(), got.mu());
        assertEquals(want.sigmaSq(), got.sigmaSq());
        assertEquals(want.detScore(), got.detScore());
        assertArrayEquals(want.bbox(), got.bbox());
        assertEquals(want.quality(), got.quality());
        assertEquals(want.model(), got.model());
    }

    static int indexOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.length; i++) {
            for (int j = 0; j < needle.length; j++) if (hay[i + j] != needle[j]) continue outer;
            return i;
        }
        throw new AssertionError("not found");
    }
}
