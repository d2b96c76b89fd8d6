import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The push merge against shared/fixtures/legacy-archive/push-merge (exact documents and report),
 * the integrity check that guards every push, and the push and restore commands' options.
 */
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

    @Test
    void integrityCheckNamesFaceToPhotoEntriesNoPhotoListsOrThatPointToNoPhoto() throws Exception {
        JsonNode ids = JsonFiles.parse("""
                {"identities": {"a": {"name": "A", "anchor_ids": ["f1"]}}}""", "ids");
        JsonNode photos = JsonFiles.parse("""
                {"photos": {"p1": {"path": "a.jpg", "face_ids": ["f1"]}},
                 "face_to_photo": {"f1": "p1", "orphan-face": "p1", "lost-face": "no-such-photo"}}""", "photos");
        List<String> problems = ArchiveIntegrity.problems(ids, photos);
        assertEquals(2, problems.size(), problems.toString());
        assertTrue(problems.stream().anyMatch(p -> p.contains("orphan-face") && p.contains("no photo lists")), problems.toString());
        assertTrue(problems.stream().anyMatch(p -> p.contains("lost-face") && p.contains("no-such-photo") && p.contains("not in photo_index.json")), problems.toString());
    }

    /** Issue 11 item 6: such entries were pushed to the site; now the push refuses, names them and sends nothing. */
    @Test
    void pushRefusesDanglingFaceToPhotoEntriesNamesThemAndSendsNothing(@TempDir Path tmp) throws Exception {
        Path legacy = ArchiveFilesTest.FIXTURE, siteRoot = Files.createDirectories(tmp.resolve("site"));
        Path data = Files.createDirectories(tmp.resolve("work/data"));
        for (String n : ArchiveFiles.NAMES) {
            Files.copy(legacy.resolve(n), siteRoot.resolve(n));
            Files.copy(legacy.resolve(n), data.resolve(n));
        }
        ObjectNode index = new ArchiveFiles(data).readPhotoIndex();
        String aPhoto = index.get("photos").fieldNames().next();
        ((ObjectNode) index.get("face_to_photo")).put("orphan-face-1", aPhoto).put("lost-face-2", "no-such-photo");
        new ArchiveFiles(data).writePhotoIndex(index);
        byte[] localBefore = Files.readAllBytes(data.resolve("photo_index.json"));
        byte[] siteIds = Files.readAllBytes(siteRoot.resolve("identities.json")), sitePhotos = Files.readAllBytes(siteRoot.resolve("photo_index.json"));
        List<String> requests = Collections.synchronizedList(new ArrayList<>());
        try (local_site.Running site = local_site.start(siteRoot, 0, "integrity-token", requests::add)) {
            KitContext ctx = TestContext.under(tmp.resolve("work"), Map.of("RHODESLI_SITE_URL", site.url(), "RHODESLI_SYNC_TOKEN", "integrity-token"),
                    new TestConsole().console, KitContext.Mode.APPLY);
            KitException e = assertThrows(KitException.class, () -> StepRunner.run(new PushStep(), ctx));
            assertTrue(e.getMessage().startsWith("refusing to push: the local archive in " + data + " fails its integrity check (2 problems)"), e.getMessage());
            assertTrue(e.getMessage().contains("face_to_photo entry orphan-face-1 (photo " + aPhoto + ") names a face that no photo lists"), e.getMessage());
            assertTrue(e.getMessage().contains("face_to_photo entry lost-face-2 points to photo no-such-photo"), e.getMessage());
            assertTrue(e.fix().contains("nothing was pushed"), e.fix());
        }
        assertFalse(requests.stream().anyMatch(r -> r.contains("/api/sync/push")), "nothing was sent to the site: " + requests);
        assertArrayEquals(siteIds, Files.readAllBytes(siteRoot.resolve("identities.json")));
        assertArrayEquals(sitePhotos, Files.readAllBytes(siteRoot.resolve("photo_index.json")));
        assertArrayEquals(localBefore, Files.readAllBytes(data.resolve("photo_index.json")));
        assertFalse(Files.exists(data.resolve("backups")));
    }

    /** The plan's JSON (--json, the pipeline's plans) holds the report and never the documents themselves. */
    @Test
    void thePlansJsonHoldsTheReportNotTheDocuments() throws Exception {
        ArchiveMerge.Result ids = ArchiveMerge.mergeIdentities(read("local-identities.json"), read("production-identities.json"));
        ArchiveMerge.Result photos = ArchiveMerge.mergePhotoIndex(read("local-photo_index.json"), read("production-photo_index.json"));
        PushStep.Plan plan = new PushStep.Plan("http://site", "data", 3, 4, new PushStep.Report(ids.counts(), photos.counts()), true, true,
                read("local-identities.json"), read("local-photo_index.json"), null);
        JsonNode json = plan.toJson();
        assertEquals(read("expected-report.json").get("identities"), json.at("/report/identities"));
        assertEquals(read("expected-report.json").get("photo_index"), json.at("/report/photos"));
        assertTrue(json.get("local_changes").asBoolean() && json.get("production_changes").asBoolean());
        assertFalse(JsonFiles.compact(json).contains("schema_version"), "no document in the plan's JSON: " + json);
        assertFalse(JsonFiles.compact(JsonFiles.MAPPER.valueToTree(plan)).contains("local_identities"), "nor when serialised as a record");
    }

    /** Every option each command accepts is listed by its --help (a real process, as a user runs it). */
    @Test
    void pushAndRestoreHelpListEveryOption() throws Exception {
        for (Object[] c : List.of(new Object[] {"steps/push_to_production.java", new push_to_production()},
                new Object[] {"steps/restore_backup.java", new restore_backup()})) {
            KitProcess.Result help = KitProcess.run((String) c[0], "--help");
            assertEquals(0, help.exitCode(), help.all());
            for (CommandLine.Model.OptionSpec o : new CommandLine(c[1]).getCommandSpec().options()) {
                for (String name : o.names()) assertTrue(help.stdout().contains(name), c[0] + " --help does not list " + name + ":\n" + help.stdout());
            }
        }
        KitProcess.Result wrong = KitProcess.run("steps/push_to_production.java", "--no-such-option");
        assertEquals(2, wrong.exitCode(), wrong.all());
    }
}
