import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 11 item 2: an admin's edit made on the site between the push's fetch and its push must
 * survive. The real local site, with a forwarding proxy in front of it that performs the
 * admin's edit on the site's own files at the exact moment the kit has read production's copy.
 */
class PushRaceTest {
    static final String TOKEN = "race-test-token";
    static final Path LEGACY = ArchiveFilesTest.FIXTURE;
    static final String IDENTITIES_API = "/api/sync/identities";

    @TempDir Path tmp;
    Path siteRoot, dataDir;
    local_site.Running site;
    String renamed;

    @BeforeEach
    void seed() throws Exception {
        siteRoot = Files.createDirectories(tmp.resolve("site"));
        dataDir = Files.createDirectories(tmp.resolve("work/data"));
        for (String n : ArchiveFiles.NAMES) {
            Files.copy(LEGACY.resolve(n), siteRoot.resolve(n));
            Files.copy(LEGACY.resolve(n), dataDir.resolve(n));
        }
        site = local_site.start(siteRoot, 0, TOKEN);
        renamed = JsonFiles.readObject(siteRoot.resolve("identities.json")).get("identities").fieldNames().next();
        addKitPhotoLocally("kit-job-1", "kit-photo-1", "kit-face-1", "kit-identity-1");
    }

    @AfterEach
    void stop() {
        site.close();
    }

    /** What an ingest adds: a photo, its face, a new identity; and the ledger's record of the job. */
    void addKitPhotoLocally(String job, String photo, String face, String identity) throws Exception {
        ArchiveFiles files = new ArchiveFiles(dataDir);
        ObjectNode index = files.readPhotoIndex();
        ObjectNode p = ((ObjectNode) index.get("photos")).putObject(photo);
        p.put("path", photo + ".jpg").putArray("face_ids").add(face);
        ((ObjectNode) index.get("face_to_photo")).put(face, photo);
        files.writePhotoIndex(index);
        ObjectNode ids = files.readIdentities();
        ObjectNode i = ((ObjectNode) ids.get("identities")).putObject(identity);
        i.put("identity_id", identity).put("name", "Unidentified Person 901").put("state", "INBOX");
        i.putArray("anchor_ids").add(face);
        files.writeIdentities(ids);
        JobLedger ledger = JobLedger.open(dataDir.resolve("runs"), KitContext.Mode.APPLY);
        ledger.recordDownload(job, Map.of("IMG_1.jpg", 10L), List.of());
        ledger.setPhotoIds(job, List.of(photo));
        ledger.mark(List.of(job), JobLedger.Milestone.INGESTED);
    }

    /** An admin renames someone on the site: a write of the site's own identities.json. */
    void adminRenames(String name) {
        try {
            ObjectNode prod = JsonFiles.readObject(siteRoot.resolve("identities.json"));
            ((ObjectNode) prod.get("identities").get(renamed)).put("name", name);
            JsonFiles.write(siteRoot.resolve("identities.json"), prod);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    KitContext context(String siteUrl, TestConsole tc) {
        return TestContext.under(tmp.resolve("work"), Map.of("RHODESLI_SITE_URL", siteUrl, "RHODESLI_SYNC_TOKEN", TOKEN), tc.console, KitContext.Mode.APPLY);
    }

    @Test
    void anAdminsEditBetweenTheFetchAndThePushSurvivesAndTheKitsAdditionsToo() throws Exception {
        // The edit lands right after the site has answered the kit's first fetch of identities.json:
        // the kit's merge is then made against a copy that is already stale.
        try (SiteProxy proxy = SiteProxy.start(site.url(), (method, path, nth) -> {
            if (path.equals(IDENTITIES_API) && nth == 1) adminRenames("Renamed By An Admin Meanwhile");
        })) {
            TestConsole tc = new TestConsole();
            PushStep.Result r = StepRunner.run(new PushStep(), context(proxy.url(), tc)).result();
            assertEquals(List.of(), r.failures(), tc.text());
            assertTrue(r.pushed() && r.verified(), tc.text());
            assertEquals(1, r.retries(), "production changed once, so the kit merged once more: " + tc.text());
            assertTrue(tc.text().contains("production's data changed since it was fetched"), tc.text());

            JsonNode onSite = JsonFiles.read(siteRoot.resolve("identities.json"));
            assertEquals("Renamed By An Admin Meanwhile", onSite.at("/identities/" + renamed + "/name").asText(), "the admin's edit survives the push");
            assertTrue(onSite.get("identities").has("kit-identity-1"), "the kit's new identity is on the site");
            assertTrue(JsonFiles.read(siteRoot.resolve("photo_index.json")).at("/photos").has("kit-photo-1"), "the kit's new photo is on the site");
            assertEquals("Renamed By An Admin Meanwhile", new ArchiveFiles(dataDir).readIdentities().at("/identities/" + renamed + "/name").asText(),
                    "the local files hold the merge that was pushed");
            assertEquals(1, r.report().identities().keptProduction(), "the report is the one of the merge that was pushed");
            assertEquals(1, r.report().identities().newLocal());
            assertEquals(List.of("kit-job-1"), r.jobsPushed());
            assertTrue(JobLedger.open(dataDir.resolve("runs"), KitContext.Mode.DRY_RUN).reached("kit-job-1", JobLedger.Milestone.PUSHED));
        }
    }

    @Test
    void aSiteThatKeepsChangingIsNeverPushedTo() throws Exception {
        byte[] photosBefore = Files.readAllBytes(siteRoot.resolve("photo_index.json"));
        try (SiteProxy proxy = SiteProxy.start(site.url(), (method, path, nth) -> {
            if (path.equals(IDENTITIES_API)) adminRenames("Edit number " + nth);
        })) {
            TestConsole tc = new TestConsole();
            PushStep.Result r = StepRunner.run(new PushStep(), context(proxy.url(), tc)).result();
            assertFalse(r.pushed(), tc.text());
            assertFalse(r.verified());
            assertEquals(1, r.failures().size(), r.failures().toString());
            assertTrue(r.failures().get(0).contains("the site keeps changing") && r.failures().get(0).contains("nothing was pushed")
                    && r.failures().get(0).contains("run ./jbang push again"), r.failures().get(0));
            assertFalse(proxy.requests.contains("POST /api/sync/push"), "nothing was sent: " + proxy.requests);
            assertEquals(1 + 3, proxy.count(IDENTITIES_API), "the plan's fetch and three checks right before the push");
            assertEquals("Edit number 4", JsonFiles.read(siteRoot.resolve("identities.json")).at("/identities/" + renamed + "/name").asText());
            assertArrayEquals(photosBefore, Files.readAllBytes(siteRoot.resolve("photo_index.json")));
            assertFalse(JobLedger.open(dataDir.resolve("runs"), KitContext.Mode.DRY_RUN).reached("kit-job-1", JobLedger.Milestone.PUSHED),
                    "a job is never recorded as pushed when nothing was");
        }
    }

    @Test
    void onlyJobsWhosePhotosAreAllOnTheSiteAreRecordedAsPushed() throws Exception {
        // a second job whose ledger names a photo the archive does not hold (its ingest went wrong)
        JobLedger ledger = JobLedger.open(dataDir.resolve("runs"), KitContext.Mode.APPLY);
        ledger.recordDownload("kit-job-2", Map.of("IMG_2.jpg", 10L), List.of());
        ledger.setPhotoIds("kit-job-2", List.of("kit-photo-1", "photo-that-was-never-registered"));
        ledger.mark(List.of("kit-job-2"), JobLedger.Milestone.INGESTED);
        // and a job that was only downloaded
        ledger.recordDownload("kit-job-3", Map.of("IMG_3.jpg", 10L), List.of());
        TestConsole tc = new TestConsole();
        PushStep.Result r = StepRunner.run(new PushStep(), context(site.url(), tc)).result();
        assertTrue(r.pushed() && r.verified(), tc.text());
        assertEquals(0, r.retries());
        assertEquals(List.of("kit-job-1"), r.jobsPushed());
        JobLedger after = JobLedger.open(dataDir.resolve("runs"), KitContext.Mode.DRY_RUN);
        assertEquals(Set.of("kit-job-1"), Set.copyOf(after.jobsAt(JobLedger.Milestone.PUSHED, null)));

        // a second push has nothing to send, and says so
        TestConsole again = new TestConsole();
        PushStep.Result r2 = StepRunner.run(new PushStep(), context(site.url(), again)).result();
        assertFalse(r2.pushed());
        assertTrue(r2.verified() && r2.failures().isEmpty(), again.text());
        assertNull(r2.backupLabel(), "the local files did not change, so no backup");
        assertTrue(again.text().contains("nothing to push"), again.text());
    }
}
