import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Step 7 as a user runs it by hand, `./jbang download ... --clear-after`, in real processes
 * against the local site over HTTP: the one clearing rule of the job ledger, --force, a clear
 * interrupted after the site acted, hostile names, and dry runs that change nothing anywhere.
 */
class ClearStagingTest {
    static final String TOKEN = "clear-test-token";
    static final String JOB = "a1b2c3d4";

    @TempDir Path tmp;
    Path siteRoot, pending;
    local_site.Running site;

    @BeforeEach
    void start() throws Exception {
        siteRoot = Files.createDirectories(tmp.resolve("site"));
        pending = tmp.resolve("raw_photos/pending");
        site = local_site.start(siteRoot, 0, TOKEN);
    }

    @AfterEach
    void stop() {
        site.close();
    }

    /** ./jbang download ARGS in the kit rooted at tmp (data/, raw_photos/pending/), against the local site. */
    KitProcess.Result download(Map<String, String> extraEnv, String... args) throws Exception {
        Map<String, String> env = new TreeMap<>(Map.of("RHODESLI_SITE_URL", site.url(), "RHODESLI_SYNC_TOKEN", TOKEN, "KIT_ROOT", tmp.toString()));
        env.putAll(extraEnv);
        return KitProcess.run(env, null, KitProcess.root().resolve("steps/download_staged.java").toString(), args);
    }

    KitProcess.Result download(String... args) throws Exception {
        return download(Map.of(), args);
    }

    /** The same download in-process (setup only: what a test looks at runs as a real process). */
    DownloadStep.Result downloadInProcess() throws Exception {
        KitContext ctx = TestContext.under(tmp, Map.of("RHODESLI_SITE_URL", site.url(), "RHODESLI_SYNC_TOKEN", TOKEN),
                new TestConsole().console, KitContext.Mode.APPLY);
        return StepRunner.run(new DownloadStep(), ctx).result();
    }

    String status(String jobId) throws Exception {
        return JsonFiles.read(siteRoot.resolve("pending_uploads.json")).at("/uploads/" + jobId + "/status").asText();
    }

    JobLedger ledger() {
        return JobLedger.open(tmp.resolve("data/runs"), KitContext.Mode.DRY_RUN);
    }

    /** What ingest, upload and push record for a job once they have finished it. */
    void markInArchive(String jobId) throws Exception {
        JobLedger l = JobLedger.open(tmp.resolve("data/runs"), KitContext.Mode.APPLY);
        for (JobLedger.Milestone m : List.of(JobLedger.Milestone.INGESTED, JobLedger.Milestone.UPLOADED, JobLedger.Milestone.PUSHED)) {
            l.mark(List.of(jobId), m);
        }
    }

    void stageOneJob() throws Exception {
        local_site.stageUpload(siteRoot, JOB, "Vida Capeluto NYC Collection", "Capeluto family",
                Map.of("IMG_0001.jpg", "a photo".getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    void theManualClearRefusesAJobThatIsOnlyDownloadedAndClearsItWithForce() throws Exception {
        stageOneJob();
        assertEquals(List.of(), downloadInProcess().failures());

        // issue 10: this used to clear the job at once, although nothing was ingested, uploaded or pushed
        KitProcess.Result refused = download("--dest", pending.toString(), "--clear-after");
        assertEquals(0, refused.exitCode(), "nothing failed and nothing is to clear: " + refused.all());
        assertTrue(refused.stdout().contains("not clearing " + JOB + ": its faces are not in the archive (not ingested);"
                + " its photos and crops are not verified in the bucket (not uploaded); its records are not verified on the site (not pushed)"), refused.stdout());
        assertTrue(refused.stdout().contains("next: ./jbang ingest --directory raw_photos/pending/" + JOB + " --job-id " + JOB), refused.stdout());
        assertTrue(refused.stdout().contains("No job to clear from staging."), refused.stdout());
        assertTrue(Files.exists(siteRoot.resolve("staging/" + JOB + "/IMG_0001.jpg")), "the site's staging is untouched");
        assertEquals("staged", status(JOB));
        assertFalse(ledger().reached(JOB, JobLedger.Milestone.CLEARED));

        KitProcess.Result forced = download("--dest", pending.toString(), "--clear-after", "--force");
        assertEquals(0, forced.exitCode(), forced.all());
        assertTrue(forced.stdout().contains("WARNING: --force clears job " + JOB + " although its faces are not in the archive (not ingested);"),
                forced.stdout());
        assertTrue(forced.stdout().contains("The site keeps no other copy"), forced.stdout());
        assertFalse(Files.exists(siteRoot.resolve("staging/" + JOB)), "the forced clear removed the job's folder");
        assertEquals("processed", status(JOB));
        assertTrue(ledger().reached(JOB, JobLedger.Milestone.CLEARED));
        assertTrue(Files.exists(pending.resolve(JOB + "/IMG_0001.jpg")), "the local copy stays");
    }

    @Test
    void aJobTheSiteAlreadyRemovedIsSettledNotWarnedAboutForEver() throws Exception {
        stageOneJob();
        assertEquals(List.of(), downloadInProcess().failures());
        markInArchive(JOB);
        // issue 11 item 7: the site removed the folder, the kit died before marking it processed
        SiteFlowTest.deleteTree(siteRoot.resolve("staging/" + JOB));
        assertEquals("staged", status(JOB));

        KitProcess.Result r = download("--dest", pending.toString(), "--clear-after");
        assertEquals(0, r.exitCode(), r.all());
        assertTrue(r.stdout().contains("settle " + JOB + ": already gone from the site's staging"), r.stdout());
        assertEquals("processed", status(JOB), "the mark-processed is finished");
        assertTrue(ledger().reached(JOB, JobLedger.Milestone.CLEARED));
        assertFalse(r.all().contains("not found") || r.all().contains("could not clear"), r.all());

        TestConsole again = new TestConsole();
        KitContext ctx = TestContext.under(tmp, Map.of("RHODESLI_SITE_URL", site.url(), "RHODESLI_SYNC_TOKEN", TOKEN), again.console, KitContext.Mode.APPLY);
        ClearStep.Result r2 = StepRunner.run(new ClearStep(ClearStep.Options.standard()), ctx).result();
        assertTrue(r2.cleared().isEmpty() && r2.notCleared().isEmpty() && r2.failures().isEmpty(), again.text());
        assertFalse(again.text().contains(JOB), "a settled job is never mentioned again: " + again.text());
    }

    @Test
    void aClearKilledRightAfterTheSiteAnsweredSettlesOnTheNextRun() throws Exception {
        stageOneJob();
        assertEquals(List.of(), downloadInProcess().failures());
        markInArchive(JOB);

        KitProcess.Result killed = download(Map.of("KIT_CRASH_AT", "clear.after-site"), "--dest", pending.toString(), "--clear-after");
        assertEquals(137, killed.exitCode(), killed.all());
        assertFalse(Files.exists(siteRoot.resolve("staging/" + JOB)), "the site acted");
        assertEquals("staged", status(JOB), "the kit died before marking the job processed");
        assertFalse(ledger().reached(JOB, JobLedger.Milestone.CLEARED));

        KitProcess.Result next = download("--dest", pending.toString(), "--clear-after");
        assertEquals(0, next.exitCode(), next.all());
        assertEquals("processed", status(JOB));
        assertTrue(ledger().reached(JOB, JobLedger.Milestone.CLEARED));
        assertTrue(next.stdout().contains("cleared 1 job(s) from staging and marked them processed: [" + JOB + "]"), next.stdout());
    }

    @Test
    void aControlCharacterInANameLeavesItsJobStagedAndIsNeverPrintedRaw() throws Exception {
        stageOneJob();
        Path job = siteRoot.resolve("staging/" + JOB);
        List<String> hostile = List.of("new\nline.jpg", "\u0001start.jpg", "\u001b[31mred.jpg");
        for (String h : hostile) Files.write(job.resolve(h), "not archived".getBytes(StandardCharsets.UTF_8));

        DownloadStep.Result dl = downloadInProcess();
        assertEquals(3, dl.failures().size(), dl.failures().toString());
        assertTrue(Files.exists(pending.resolve(JOB + "/IMG_0001.jpg")), "the rest of the job is downloaded");
        JobLedger.Job inLedger = ledger().job(JOB);
        assertEquals(3, inLedger.leftOnSite().size(), "the refused files belong to their own job");
        assertFalse(inLedger.has(JobLedger.Milestone.DOWNLOADED));

        // even with the good photo ingested, uploaded and pushed, the refused files keep the job staged
        markInArchive(JOB);
        KitProcess.Result clear = download("--dest", pending.toString(), "--clear-after");
        assertEquals(1, clear.exitCode(), "files left on the site are a failure of the download: " + clear.all());
        assertNoRawControlCharacters(clear.all());
        assertTrue(clear.stdout().contains(JOB + "/new\\x0aline.jpg: left on the site, its name is refused: it holds a control character"
                + " -> rename or re-upload it on the site"), clear.stdout());
        assertTrue(clear.stdout().contains(JOB + "/\\x1b[31mred.jpg") && clear.stdout().contains(JOB + "/\\x01start.jpg"), clear.stdout());
        assertTrue(clear.stdout().contains("not clearing " + JOB + ": 3 of its files never reached the archive (e.g. " + JOB + "/"), clear.stdout());
        assertTrue(clear.stdout().contains("next: rename or re-upload a refused file on the site"), clear.stdout());
        assertTrue(clear.stdout().contains("No job to clear from staging."), clear.stdout());
        for (String h : hostile) assertTrue(Files.exists(job.resolve(h)), "the site still holds the refused file");
        assertTrue(Files.exists(job.resolve("IMG_0001.jpg")));
        assertEquals("staged", status(JOB));

        // --force overrides only what is not archived yet, never a file left on the site; --json escapes names too
        KitProcess.Result forced = download("--dest", pending.toString(), "--clear-after", "--force", "--json");
        assertNoRawControlCharacters(forced.all());
        JsonNode json = JsonFiles.parse(forced.stdout(), "stdout");
        assertEquals(List.of("KEEP"), json.at("/clear/plan/jobs").findValues("action").stream().map(JsonNode::asText).distinct().toList());
        assertTrue(json.at("/result/jobs/0/left/0/path").asText().startsWith(JOB + "/"), forced.stdout());
        for (String h : hostile) assertTrue(Files.exists(job.resolve(h)));
        assertEquals("staged", status(JOB));
    }

    static void assertNoRawControlCharacters(String output) {
        for (int i = 0; i < output.length(); i++) {
            char c = output.charAt(i);
            if (c == '\n' || c == '\t') continue;
            assertFalse(c < 0x20 || c == 0x7f, "raw control character \\x" + Integer.toHexString(c) + " at " + i + " in: " + output);
        }
        assertFalse(output.contains("new\nline"), "a newline inside a name is never printed raw: " + output);
    }

    @Test
    void dryRunsLeaveThePendingFolderTheLedgerAndTheSiteByteIdentical() throws Exception {
        stageOneJob();
        local_site.stageUpload(siteRoot, "e5f6a7b8", "Rhodes 1930s", "Rhodes school", Map.of("IMG_0002.jpg", new byte[] {1, 2, 3}));
        assertEquals(List.of(), downloadInProcess().failures());
        markInArchive(JOB);
        // what dry runs must leave alone: a new staged file, a stale unfinished download, the ledger
        local_site.stageUpload(siteRoot, "0badc0de", "Cousins", "Cousins", Map.of("IMG_0003.jpg", new byte[] {4, 5}));
        Files.write(pending.resolve(JOB + "/.IMG_0009.jpg.999999999-1.part"), new byte[] {9});
        Map<String, String> before = hashes(tmp);
        assertTrue(before.containsKey("data/runs/jobs.json"), before.keySet().toString());

        Map<String, String> env = Map.of("RHODESLI_SITE_URL", site.url(), "RHODESLI_SYNC_TOKEN", TOKEN, "KIT_ROOT", tmp.toString());
        for (List<String> args : List.of(List.of("download_staged", "--dry-run"), List.of("download_staged", "--dry-run", "--clear-after"),
                List.of("download_staged", "--dry-run", "--clear-after", "--force"), List.of("clear_staging", "--dry-run", "--force"))) {
            List<String> options = new java.util.ArrayList<>(List.of("--dest", pending.toString()));
            options.addAll(args.subList(1, args.size()));
            KitProcess.Result r = KitProcess.run(env, null, KitProcess.root().resolve("steps/" + args.get(0) + ".java").toString(),
                    options.toArray(String[]::new));
            assertEquals(0, r.exitCode(), args + ": " + r.all());
            assertTrue(r.stdout().contains("Dry run: nothing was changed"), r.stdout());
            assertEquals(before, hashes(tmp), args + " changed something");
            if (args.equals(List.of("download_staged", "--dry-run", "--clear-after"))) {
                assertTrue(r.stdout().contains("clear " + JOB + ": downloaded, ingested, uploaded and pushed"), r.stdout());
                assertTrue(r.stdout().contains("not clearing e5f6a7b8: its faces are not in the archive"), r.stdout());
            }
        }
    }

    /** Every file under {@code root} (the site's folder, data/, raw_photos/) by relative path, with its SHA-256. */
    static Map<String, String> hashes(Path root) throws Exception {
        Map<String, String> out = new TreeMap<>();
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.toList()) {
                String rel = root.relativize(p).toString();
                if (Files.isDirectory(p)) {
                    out.put(rel + "/", "dir");
                } else {
                    out.put(rel, HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p))));
                }
            }
        }
        return out;
    }

    @Test
    void helpListsEveryOptionAndForceNeedsClearAfter() throws Exception {
        String help = new picocli.CommandLine(new download_staged()).getUsageMessage();
        for (String o : List.of("--pending-dir", "--dest", "--data-dir", "--photos-dir", "--crops-dir", "--models-dir",
                "--clear-after", "--force", "--dry-run", "--json", "--help", "--version")) {
            assertTrue(help.contains(o), o + " missing from: " + help);
        }
        assertEquals(StepMain.USAGE, StepMain.run(new download_staged(), "--force"), "--force without --clear-after is a usage error");
        String clearHelp = new picocli.CommandLine(new clear_staging()).getUsageMessage();
        for (String o : List.of("--pending-dir", "--data-dir", "--force", "--dry-run", "--json", "--help", "--version")) {
            assertTrue(clearHelp.contains(o), o + " missing from: " + clearHelp);
        }
    }
}
