import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The push merge against shared/fixtures/legacy-archive/push-merge: exact documents and report. */
class PushMergeTest {
    static final Path DIR = KitProcess.root().resolve("../shared/fixtures/legacy-archive/push-merge").normalize();

    static ObjectNode read(String name) throws Exception {
        return JsonFiles.readObject(DIR.resolve(name));
    }

    @Test
    void identitiesMergeGivesExactlyTheExpectedDocumentAndCounts() throws Exception {
        ArchiveMerge.Result r = ArchiveMerge.mergeIdentities(read("local-identities.json"), read("production-identities.json"));
        assertTrue(JsonFiles.sameContent(read("expected-identities.json"), r.document()), "merged identities differ from expected");
        assertEquals(read("expected-report.json").get("identities"), r.counts().toJson());
        // the merge keeps other top-level keys (the earlier pipeline dropped history)
        assertEquals(read("local-identities.json").get("history"), r.document().get("history"));
    }

    @Test
    void photoIndexMergeGivesExactlyTheExpectedDocumentAndCounts() throws Exception {
        ArchiveMerge.Result r = ArchiveMerge.mergePhotoIndex(read("local-photo_index.json"), read("production-photo_index.json"));
        assertTrue(JsonFiles.sameContent(read("expected-photo_index.json"), r.document()), "merged photo index differs from expected");
        assertEquals(read("expected-report.json").get("photo_index"), r.counts().toJson());
    }

    @Test
    void adminActionsOnTheSiteWinAndPipelineOnlyChangesSurvive() throws Exception {
        ObjectNode local = (ObjectNode) JsonFiles.parse("""
                {"schema_version": 1, "identities": {
                  "a": {"identity_id": "a", "name": "Unidentified Person 001", "state": "INBOX", "anchor_ids": ["f1"], "version_id": 3, "pipeline_note": "x"},
                  "b": {"identity_id": "b", "name": "B", "state": "CONFIRMED", "anchor_ids": [{"face_id": "f2"}], "negative_ids": ["identity:a"]}},
                 "history": [1]}""", "local");
        ObjectNode prod = (ObjectNode) JsonFiles.parse("""
                {"schema_version": 1, "identities": {
                  "a": {"identity_id": "a", "name": "Unidentified Person 001", "state": "INBOX", "anchor_ids": ["f1"], "version_id": 2},
                  "b": {"identity_id": "b", "name": "Béatrice", "state": "CONFIRMED", "anchor_ids": ["f2"], "negative_ids": ["identity:a"]}}}""", "prod");
        ArchiveMerge.Result r = ArchiveMerge.mergeIdentities(local, prod);
        assertEquals("x", r.document().at("/identities/a/pipeline_note").asText(), "a pipeline-only change is kept");
        assertEquals("Béatrice", r.document().at("/identities/b/name").asText(), "an admin's rename wins");
        assertEquals(List.of(1), List.of(r.document().get("history").get(0).asInt()));
        // a string anchor and a {"face_id"} anchor for the same face are the same face
        assertFalse(ArchiveMerge.adminChanged(JsonFiles.parse("{\"anchor_ids\": [\"f\"]}", "x"), JsonFiles.parse("{\"anchor_ids\": [{\"face_id\": \"f\"}]}", "y")));
        // an absent merged_into and a null one are the same
        assertFalse(ArchiveMerge.adminChanged(JsonFiles.parse("{\"merged_into\": null}", "x"), JsonFiles.parse("{}", "y")));
        assertTrue(ArchiveMerge.adminChanged(JsonFiles.parse("{\"negative_ids\": []}", "x"), JsonFiles.parse("{\"negative_ids\": [\"identity:z\"]}", "y")));
    }

    @Test
    void integrityCheckFindsEveryKindOfProblem() throws Exception {
        JsonNode ids = JsonFiles.parse("""
                {"identities": {
                  "a": {"name": "A", "anchor_ids": ["f1", "ghost"], "candidate_ids": ["f2"]},
                  "b": {"name": "B", "anchor_ids": [], "merged_into": "nobody"}}}""", "ids");
        JsonNode photos = JsonFiles.parse("""
                {"photos": {"p1": {"path": "x/IMG_0001.jpg", "face_ids": ["f1"]},
                            "p2": {"path": "IMG_0001.jpg", "face_ids": []}},
                 "face_to_photo": {"f1": "p1", "f2": "p2"}}""", "photos");
        List<String> problems = ArchiveIntegrity.problems(ids, photos);
        assertEquals(4, problems.size(), problems.toString());
        assertTrue(problems.stream().anyMatch(p -> p.contains("ghost") && p.contains("face_to_photo")));
        assertTrue(problems.stream().anyMatch(p -> p.contains("photo p2 does not list face f2")));
        assertTrue(problems.stream().anyMatch(p -> p.contains("merged into nobody")));
        assertTrue(problems.stream().anyMatch(p -> p.contains("share the file name IMG_0001.jpg")));
        Path archive = DIR.resolveSibling("data");
        assertEquals(List.of(), ArchiveIntegrity.problems(JsonFiles.read(archive.resolve("identities.json")), JsonFiles.read(archive.resolve("photo_index.json"))),
                "the legacy archive is consistent");
        // the push-merge fixture's local copy holds a candidate face that was never registered
        assertEquals(1, ArchiveIntegrity.problems(read("local-identities.json"), read("local-photo_index.json")).size());
    }
}
