import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ArchiveFilesTest {
    static final Path FIXTURE = KitProcess.root().resolve("../shared/fixtures/legacy-archive/data").normalize();

    @Test
    void legacyFixtureSurvivesReadAndWriteWithEveryFieldValueAndKeyOrder(@TempDir Path dir) throws Exception {
        for (String name : ArchiveFiles.NAMES) Files.copy(FIXTURE.resolve(name), dir.resolve(name));
        ArchiveFiles files = new ArchiveFiles(dir);
        files.writeIdentities(files.readIdentities());
        files.writePhotoIndex(files.readPhotoIndex());
        for (String name : ArchiveFiles.NAMES) {
            JsonNode original = JsonFiles.read(FIXTURE.resolve(name));
            JsonNode written = JsonFiles.read(dir.resolve(name));
            assertEquals(original, written, name + " changed in a read/write round trip");
            assertEquals(keyOrder(original), keyOrder(written), name + ": key order changed");
        }
        // history and non-ASCII names are written as they were, in UTF-8
        String text = Files.readString(dir.resolve(ArchiveFiles.IDENTITIES), StandardCharsets.UTF_8);
        assertTrue(JsonFiles.read(dir.resolve(ArchiveFiles.IDENTITIES)).get("history").size() > 0);
        assertFalse(text.contains("\\u00e9"), "non-ASCII must be written as UTF-8, not escaped");
    }

    @Test
    void writtenTextIsPythonStyleTwoSpaceIndent(@TempDir Path dir) throws Exception {
        ObjectNode doc = (ObjectNode) JsonFiles.parse("{\"schema_version\":1,\"identities\":{\"a\":{\"name\":\"Béatrice\",\"anchor_ids\":[],\"x\":1.50,\"y\":[1,2]}},\"history\":[]}", "t");
        new ArchiveFiles(dir).writeIdentities(doc);
        String expected = """
                {
                  "schema_version": 1,
                  "identities": {
                    "a": {
                      "name": "Béatrice",
                      "anchor_ids": [],
                      "x": 1.50,
                      "y": [
                        1,
                        2
                      ]
                    }
                  },
                  "history": []
                }
                """;
        assertEquals(expected, Files.readString(dir.resolve(ArchiveFiles.IDENTITIES), StandardCharsets.UTF_8));
    }

    @Test
    void missingFilesStartAnEmptyArchive(@TempDir Path dir) {
        ArchiveFiles files = new ArchiveFiles(dir);
        assertTrue(files.isEmptyArchive());
        assertEquals(0, ArchiveFiles.identityCount(files.readIdentities()));
        assertEquals(0, ArchiveFiles.photoCount(files.readPhotoIndex()));
        assertTrue(files.readPhotoIndex().get("face_to_photo").isObject());
    }

    @Test
    void corruptOrWrongDocumentsAreRefusedNamingTheFile(@TempDir Path dir) throws Exception {
        ArchiveFiles files = new ArchiveFiles(dir);
        Files.writeString(files.identitiesFile(), "{\"identities\": {\"a\": ");
        KitException e = assertThrows(KitException.class, files::readIdentities);
        assertTrue(e.getMessage().contains("identities.json") && e.getMessage().contains("not valid JSON"), e.getMessage());
        assertNotNull(e.fix());
        Files.copy(FIXTURE.resolve(ArchiveFiles.PHOTO_INDEX), files.identitiesFile(), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        e = assertThrows(KitException.class, files::readIdentities);
        assertTrue(e.getMessage().contains("looks like a photo index"), e.getMessage());
    }

    @Test
    void atomicWriteLeavesNoTemporaryFilesAndReplacesTheOld(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("x.json");
        AtomicFiles.write(f, "old".getBytes());
        AtomicFiles.write(f, "new".getBytes());
        assertEquals("new", Files.readString(f));
        try (var s = Files.list(dir)) {
            assertEquals(List.of("x.json"), s.map(p -> p.getFileName().toString()).toList());
        }
    }

    static List<String> keyOrder(JsonNode n) {
        List<String> out = new ArrayList<>();
        walk(n, "", out);
        return out;
    }

    static void walk(JsonNode n, String path, List<String> out) {
        if (n.isObject()) {
            for (Iterator<String> it = n.fieldNames(); it.hasNext(); ) {
                String k = it.next();
                out.add(path + "/" + k);
                walk(n.get(k), path + "/" + k, out);
            }
        } else if (n.isArray()) {
            for (int i = 0; i < n.size(); i++) walk(n.get(i), path + "[" + i + "]", out);
        }
    }
}
