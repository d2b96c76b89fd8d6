import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 13, matching speed: the legacy pickle is converted once into a segment copy that later
 * runs load, and every shape of the archive (pickle, its converted copy, the kit's own store)
 * gives exactly the proposals the kit gave before the speed work (tests/fixtures/generated-cluster,
 * made by the kit of commit d90f83f on the same generated archive).
 */
class ClusterSpeedTest {
    static final Path EXPECTED = KitProcess.root().resolve("tests/fixtures/generated-cluster");
    static final ClusterArchive.Size SIZE = new ClusterArchive.Size(300, 8, 400);

    static JsonNode proposals(Path data, double threshold) throws Exception {
        ClusterTest.run(data, threshold, false, null);
        ObjectNode got = JsonFiles.readObject(data.resolve("proposals.json"));
        assertTrue(got.remove("generated_at").asText().matches(ClusterTest.TIMESTAMP));
        return got;
    }

    static Path converted(Path data) {
        return data.resolve(EmbeddingStore.CONVERTED_FOLDER);
    }

    @Test
    void everyShapeOfTheArchiveGivesTheProposalsOfBefore(@TempDir Path dir) throws Exception {
        Path legacy = dir.resolve("legacy"), store = dir.resolve("store");
        ClusterArchive.write(legacy, SIZE, 7, ClusterArchive.Shape.LEGACY_PICKLE);
        ClusterArchive.write(store, SIZE, 7, ClusterArchive.Shape.STORE);
        byte[] pickle = Files.readAllBytes(legacy.resolve("embeddings.npy"));
        for (String t : List.of("1.05", "1.25")) {
            JsonNode want = JsonFiles.read(EXPECTED.resolve("proposals-" + t + ".json"));
            double threshold = Double.parseDouble(t);
            // First run: from the pickle (converting); second: from the converted copy; then the kit's own store.
            assertEquals(want, proposals(legacy, threshold), "legacy pickle at " + t);
            assertTrue(Files.isRegularFile(converted(legacy).resolve("manifest.json")), "the first run leaves a converted copy");
            assertEquals(want, proposals(legacy, threshold), "converted copy at " + t);
            assertEquals(want, proposals(store, threshold), "kit's store at " + t);
        }
        assertArrayEquals(pickle, Files.readAllBytes(legacy.resolve("embeddings.npy")), "embeddings.npy is never rewritten");
        assertFalse(Files.exists(legacy.resolve(EmbeddingStore.FOLDER)), "converting does not create the store proper");
    }

    @Test
    void laterRunsReadTheConvertedCopyAndAChangedPickleIsConvertedAgain(@TempDir Path dir) throws Exception {
        Path data = dir.resolve("data");
        ClusterArchive.write(data, new ClusterArchive.Size(20, 8, 30), 3, ClusterArchive.Shape.LEGACY_PICKLE);
        Path npy = data.resolve("embeddings.npy");
        EmbeddingStore first = EmbeddingStore.open(data, EmbeddingStore.Conversion.CONVERT);
        Path seg = converted(data).resolve("seg-000001.npy");
        assertTrue(Files.isRegularFile(seg));
        assertEquals(first.size(), EmbeddingStore.open(data).size());

        // Proof that the copy is what later runs read: a vector changed in the copy shows up (the pickle is untouched).
        byte[] segBytes = Files.readAllBytes(seg);
        byte[] marked = segBytes.clone();
        marked[marked.length - 1] ^= 0x40;
        Files.write(seg, marked);
        EmbeddingStore fromCopy = EmbeddingStore.open(data, EmbeddingStore.Conversion.CONVERT);
        String lastId = fromCopy.faces().get(fromCopy.size() - 1).faceId();
        assertNotEquals(first.get(lastId).mu()[511], fromCopy.get(lastId).mu()[511], "a later open reads the converted copy");

        // The earlier pipeline writes embeddings.npy again (other faces): noticed, converted again.
        ClusterArchive.write(dir.resolve("other"), new ClusterArchive.Size(25, 8, 30), 4, ClusterArchive.Shape.LEGACY_PICKLE);
        FileTime mtime = Files.getLastModifiedTime(npy);
        Files.copy(dir.resolve("other/embeddings.npy"), npy, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Files.setLastModifiedTime(npy, mtime); // even with the old modification time (its change time still moves)
        EmbeddingStore again = EmbeddingStore.open(data, EmbeddingStore.Conversion.CONVERT);
        assertEquals(LegacyEmbeddings.read(npy).size(), again.size());
        assertEquals(25 * 8 + 30, again.size());
        EmbeddingStore reread = EmbeddingStore.open(data);
        assertEquals(again.size(), reread.size());
        for (EmbeddingStore.Face f : LegacyEmbeddings.read(npy).stream().map(LegacyEmbeddings.LegacyFace::face).toList()) {
            assertArrayEquals(f.mu(), reread.get(f.faceId()).mu(), f.faceId());
        }
        try (var files = Files.list(converted(data))) {
            assertEquals(List.of("manifest.json", "seg-000002.jsonl", "seg-000002.npy"),
                    files.map(p -> p.getFileName().toString()).sorted().toList(), "the old copy's segments are gone");
        }
    }

    @Test
    void aConversionCutShortLeavesNothingThatIsRead(@TempDir Path dir) throws Exception {
        Path data = dir.resolve("data");
        ClusterArchive.write(data, new ClusterArchive.Size(20, 8, 30), 5, ClusterArchive.Shape.LEGACY_PICKLE);
        Path npy = data.resolve("embeddings.npy");
        List<EmbeddingStore.Face> truth = LegacyEmbeddings.read(npy).stream().map(LegacyEmbeddings.LegacyFace::face).toList();

        // A crash after the segment files but before the manifest: segments without a manifest.
        Path folder = Files.createDirectories(converted(data));
        Files.writeString(folder.resolve("seg-000001.npy"), "half written");
        Files.writeString(folder.resolve("seg-000001.jsonl"), "{\"face_id\":");
        EmbeddingStore s = EmbeddingStore.open(data);
        assertEquals(truth.size(), s.size(), "without a manifest the copy is not read");
        s = EmbeddingStore.open(data, EmbeddingStore.Conversion.CONVERT);
        assertEquals(truth.size(), s.size());
        try (var files = Files.list(folder)) {
            assertEquals(List.of("manifest.json", "seg-000001.jsonl", "seg-000001.npy"),
                    files.map(p -> p.getFileName().toString()).sorted().toList(), "the half segments are replaced whole");
        }
        for (EmbeddingStore.Face f : truth) assertArrayEquals(f.mu(), EmbeddingStore.open(data).get(f.faceId()).mu(), f.faceId());
        // A damaged copy whose manifest still matches (a disk error): the pickle is read instead, and the copy rebuilt.
        Path seg = folder.resolve("seg-000001.npy");
        Files.write(seg, java.util.Arrays.copyOf(Files.readAllBytes(seg), 300));
        s = EmbeddingStore.open(data, EmbeddingStore.Conversion.CONVERT);
        for (EmbeddingStore.Face f : truth) assertArrayEquals(f.mu(), s.get(f.faceId()).mu(), f.faceId());
        for (EmbeddingStore.Face f : truth) assertArrayEquals(f.mu(), EmbeddingStore.open(data).get(f.faceId()).mu(), f.faceId());
    }

    @Test
    void theFirstAppendMovesTheFacesIntoTheStoreAndDropsTheCopy(@TempDir Path dir) throws Exception {
        Path data = dir.resolve("data");
        ClusterArchive.write(data, new ClusterArchive.Size(10, 8, 10), 6, ClusterArchive.Shape.LEGACY_PICKLE);
        EmbeddingStore s = EmbeddingStore.open(data, EmbeddingStore.Conversion.CONVERT);
        assertTrue(Files.isDirectory(converted(data)));
        int before = s.size();
        s.append(List.of(ClusterArchive.face("inbox_ffffffffffff", "x.jpg", ClusterArchive.unit(new java.util.Random(1), 512), null)));
        assertFalse(Files.exists(converted(data)), "once the store exists, the copy is never read again: removed");
        assertEquals(before + 1, EmbeddingStore.open(data).size());
    }
}
