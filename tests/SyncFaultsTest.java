import static org.junit.jupiter.api.Assertions.*;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The sync client and the download step against a server that misbehaves on purpose. */
class SyncFaultsTest {
    static final String TOKEN = "test-token-do-not-print";

    /** Short timeouts and backoff so faults are seen within seconds. */
    static SyncClient client(FaultySite site) {
        return new SyncClient(site.url(), TOKEN, new SyncClient.Settings(Duration.ofSeconds(2), Duration.ofSeconds(3),
                Duration.ofSeconds(2), 3, Duration.ofMillis(20), Duration.ofMillis(100)));
    }

    /** Even shorter, for the tests that wait for timeouts. */
    static SyncClient impatientClient(FaultySite site) {
        return new SyncClient(site.url(), TOKEN, new SyncClient.Settings(Duration.ofSeconds(1), Duration.ofSeconds(1),
                Duration.ofSeconds(1), 2, Duration.ofMillis(20), Duration.ofMillis(50)));
    }

    static byte[] randomBytes(int n) {
        byte[] b = new byte[n];
        new Random(n).nextBytes(b);
        return b;
    }

    static String listing(String path, long size) {
        return "{\"files\": [{\"filename\": \"" + path.substring(path.lastIndexOf('/') + 1) + "\", \"path\": \"" + path
                + "\", \"size_bytes\": " + size + ", \"uploaded_at\": \"2026-02-10T14:03:11.201+00:00\"}], \"total_files\": 1, \"total_size_bytes\": " + size + "}";
    }

    static List<String> filesUnder(Path dir) throws Exception {
        if (!Files.exists(dir)) return List.of();
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(Files::isRegularFile).map(p -> dir.relativize(p).toString()).sorted().toList();
        }
    }

    @Test
    void pushFetchesProductionsTwoDocumentsSideBySideAndNamesIdentitiesFirstWhenBothFail() throws Exception {
        // Each answer waits until both documents are asked for, at most 1.5 s (under the client's 2 s
        // timeout, so no retry comes in): fetched in turn, the two are never in flight at once.
        java.util.Set<String> inFlight = java.util.concurrent.ConcurrentHashMap.newKeySet();
        AtomicInteger most = new AtomicInteger();
        java.util.concurrent.CountDownLatch both = new java.util.concurrent.CountDownLatch(2);
        java.util.function.Function<FaultySite.Request, FaultySite.Reply> together = r -> {
            inFlight.add(r.path());
            both.countDown();
            try {
                both.await(1500, java.util.concurrent.TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            most.accumulateAndGet(inFlight.size(), Math::max);
            inFlight.remove(r.path());
            return r.path().endsWith("/identities") ? FaultySite.json("{\"identities\": {}}") : FaultySite.json("{\"photos\": {}}");
        };
        try (FaultySite site = new FaultySite(together)) {
            PushStep.Production p = PushStep.fetchProduction(client(site));
            assertEquals(0, p.identities().get("identities").size());
            assertTrue(p.photoIndex().has("photos"));
            assertEquals(2, most.get(), "both documents were being fetched at the same time");
        }
        // Both failing: said as when they were fetched in turn, identities.json's problem first.
        try (FaultySite site = new FaultySite(r -> FaultySite.text(401, "Unauthorized"))) {
            KitException e = assertThrows(KitException.class, () -> PushStep.fetchProduction(client(site)));
            assertTrue(e.getMessage().contains("the identities API"), e.getMessage());
        }
    }

    @Test
    void unauthorizedIsNotRetriedAndSaysWhichVariableToCheck() throws Exception {
        try (FaultySite site = new FaultySite(r -> FaultySite.text(401, "Unauthorized"))) {
            KitException e = assertThrows(KitException.class, () -> client(site).listStaged());
            assertTrue(e.getMessage().startsWith("Unauthorized"), e.getMessage());
            assertTrue(e.fix().contains("RHODESLI_SYNC_TOKEN") && e.fix().contains(".env"), e.fix());
            assertFalse(e.getMessage().contains(TOKEN) || e.fix().contains(TOKEN), "the token must never be shown");
            assertEquals(1, site.requests.size(), "401 is final: no retry");
            assertEquals("Bearer " + TOKEN, site.requests.get(0).authorization());
        }
    }

    @Test
    void pushAnswering404SaysDeployTheLatestSite() throws Exception {
        try (FaultySite site = new FaultySite(r -> FaultySite.text(404, "Not Found"))) {
            KitException e = assertThrows(KitException.class, () -> client(site).push(ArchiveFiles.emptyIdentities(), null));
            assertTrue(e.getMessage().contains("push API answered 404"), e.getMessage());
            assertTrue(e.fix().contains("deploy the latest site first"), e.fix());
            assertEquals(1, site.requests.size());
        }
    }

    @Test
    void siteWithoutTokenConfiguredIs503AndFinal() throws Exception {
        try (FaultySite site = new FaultySite(r -> FaultySite.text(503, "Sync API not configured (RHODESLI_SYNC_TOKEN not set)"))) {
            KitException e = assertThrows(KitException.class, () -> client(site).fetchIdentities());
            assertTrue(e.getMessage().contains("not configured"), e.getMessage());
            assertTrue(e.fix().contains("site's own environment"), e.fix());
            assertEquals(1, site.requests.size(), "a misconfigured site does not heal by retrying");
        }
    }

    @Test
    void transient503And500AreRetriedUntilTheyPass() throws Exception {
        AtomicInteger n = new AtomicInteger();
        try (FaultySite site = new FaultySite(r -> switch (n.incrementAndGet()) {
            case 1 -> FaultySite.text(503, "Service Unavailable");
            case 2 -> FaultySite.text(500, "Internal Server Error");
            default -> FaultySite.json(listing("a1b2c3d4/x.jpg", 3));
        })) {
            List<SyncClient.StagedFile> files = client(site).listStaged();
            assertEquals(1, files.size());
            assertEquals("a1b2c3d4/x.jpg", files.get(0).path());
            assertEquals(3, site.requests.size());
        }
    }

    @Test
    void persistent500GivesUpAfterBoundedTriesWithAClearMessage() throws Exception {
        try (FaultySite site = new FaultySite(r -> FaultySite.text(500, "boom"))) {
            KitException e = assertThrows(KitException.class, () -> client(site).listStaged());
            assertTrue(e.getMessage().contains("failed after 3 tries") && e.getMessage().contains("500"), e.getMessage());
            assertEquals(3, site.requests.size());
        }
    }

    @Test
    void connectionResetMidDownloadIsRetriedAndLeavesNoPartialFile(@TempDir Path dir) throws Exception {
        byte[] body = randomBytes(300_000);
        AtomicInteger downloads = new AtomicInteger();
        try (FaultySite site = new FaultySite(r -> r.path().startsWith("/api/sync/staged/download/")
                ? (downloads.incrementAndGet() == 1 ? FaultySite.resetAfter(body, 100_000) : FaultySite.bytes(body))
                : FaultySite.json(listing("a1b2c3d4/scan.tif", body.length)))) {
            Path target = dir.resolve("a1b2c3d4/scan.tif");
            client(site).download("a1b2c3d4/scan.tif", target, body.length, null);
            assertArrayEquals(body, Files.readAllBytes(target));
            assertEquals(2, downloads.get());
            assertEquals(List.of("a1b2c3d4/scan.tif"), filesUnder(dir), "no temporary file left behind");
        }
    }

    @Test
    void resetEveryTimeFailsCleanlyWithNoFileAtAll(@TempDir Path dir) throws Exception {
        byte[] body = randomBytes(200_000);
        try (FaultySite site = new FaultySite(r -> FaultySite.resetAfter(body, 50_000))) {
            KitException e = assertThrows(KitException.class, () -> client(site).download("a1b2c3d4/x.jpg", dir.resolve("a1b2c3d4/x.jpg"), body.length, null));
            assertTrue(e.getMessage().contains("staged file a1b2c3d4/x.jpg failed after 3 tries"), e.getMessage());
            assertEquals(List.of(), filesUnder(dir));
        }
    }

    @Test
    void bodyShorterThanTheListingIsDetected(@TempDir Path dir) throws Exception {
        byte[] body = randomBytes(1000);
        try (FaultySite site = new FaultySite(r -> FaultySite.bytes(body))) {
            KitException e = assertThrows(KitException.class, () -> client(site).download("a1b2c3d4/x.jpg", dir.resolve("a1b2c3d4/x.jpg"), 2000, null));
            assertTrue(e.getMessage().contains("received 1000 bytes, the listing says 2000"), e.getMessage());
            assertEquals(List.of(), filesUnder(dir));
        }
    }

    @Test
    void stalledDownloadTimesOutInsteadOfHangingForEver(@TempDir Path dir) throws Exception {
        byte[] body = randomBytes(100_000);
        try (FaultySite site = new FaultySite(r -> FaultySite.stallAfter(body, 10_000, 30_000))) {
            long t0 = System.nanoTime();
            KitException e = assertThrows(KitException.class, () -> impatientClient(site).download("a1b2c3d4/x.jpg", dir.resolve("a1b2c3d4/x.jpg"), body.length, null));
            double seconds = (System.nanoTime() - t0) / 1e9;
            assertTrue(e.getMessage().contains("timed out"), e.getMessage());
            assertTrue(seconds < 10, "gave up after " + seconds + " s");
            assertEquals(List.of(), filesUnder(dir));
        }
    }

    @Test
    void silentServerTimesOut() throws Exception {
        try (FaultySite site = new FaultySite(r -> FaultySite.silence(30_000))) {
            KitException e = assertThrows(KitException.class, () -> impatientClient(site).status());
            assertTrue(e.getMessage().contains("timed out"), e.getMessage());
        }
    }

    @Test
    void malformedJsonListingDownloadsNothingAndSaysSo(@TempDir Path dir) throws Exception {
        try (FaultySite site = new FaultySite(r -> FaultySite.json("{\"files\": [{\"path\": \"a1b2c3d4/x.jpg\", "))) {
            TestConsole tc = new TestConsole();
            KitException e = assertThrows(KitException.class, () -> StepRunner.run(new DownloadStep(client(site)), TestContext.under(dir, tc.console)));
            assertTrue(e.getMessage().contains("not valid JSON"), e.getMessage());
            assertEquals(List.of(), filesUnder(dir));
        }
        try (FaultySite site = new FaultySite(r -> FaultySite.json("{\"files\": [{\"path\": 7}]}"))) {
            KitException e = assertThrows(KitException.class, () -> client(site).listStaged());
            assertTrue(e.getMessage().contains("without a valid path"), e.getMessage());
        }
    }

    @Test
    void hostilePathsAreRefusedWhileTheRestIsDownloaded(@TempDir Path tmp) throws Exception {
        Path dest = tmp.resolve("raw_photos/pending");
        byte[] good = "good photo".getBytes(StandardCharsets.UTF_8);
        String[] hostile = {"../escape.jpg", "/etc/passwd", "a1b2c3d4/../../escape2.jpg", "a1b2c3d4/./x.jpg", "C:/win.jpg", "a1b2c3d4\\\\..\\\\x.jpg"};
        StringBuilder files = new StringBuilder("{\"files\": [");
        for (String h : hostile) files.append("{\"filename\": \"x\", \"path\": \"").append(h).append("\", \"size_bytes\": 4},");
        files.append("{\"filename\": \"ok.jpg\", \"path\": \"a1b2c3d4/ok.jpg\", \"size_bytes\": ").append(good.length).append("}]}");
        try (FaultySite site = new FaultySite(r -> r.path().startsWith("/api/sync/staged/download/") ? FaultySite.bytes(good) : FaultySite.json(files.toString()))) {
            TestConsole tc = new TestConsole();
            DownloadStep.Result result = StepRunner.run(new DownloadStep(client(site)), TestContext.under(tmp, tc.console)).result();
            assertEquals(hostile.length, result.failures().size(), result.failures().toString());
            assertEquals(List.of("a1b2c3d4/ok.jpg"), filesUnder(dest));
            assertEquals(List.of("raw_photos/pending/a1b2c3d4/ok.jpg"), filesUnder(tmp.resolve("raw_photos")).stream().map(p -> "raw_photos/" + p).toList(),
                    "nothing lands outside the destination");
            assertFalse(Files.exists(tmp.resolve("escape.jpg")) || Files.exists(tmp.resolve("raw_photos/escape.jpg")) || Files.exists(tmp.resolve("escape2.jpg")));
            assertEquals(1, site.count("/api/sync/staged/download/"), "a refused path is never even requested");
            assertTrue(tc.text().contains("refused ../escape.jpg: its name is refused: it holds '..' (left on the site)"), tc.text());
            assertTrue(result.failures().get(0).startsWith("../escape.jpg: left on the site"), result.failures().toString());
            // the hostile names inside a1b2c3d4/ belong to that job (not to a made-up one): it is not complete
            DownloadStep.JobResult job = result.jobs().stream().filter(j -> j.jobId().equals("a1b2c3d4")).findFirst().orElseThrow();
            assertEquals(List.of("a1b2c3d4/../../escape2.jpg", "a1b2c3d4/./x.jpg"), job.left().stream().map(JobLedger.LeftFile::path).toList());
            assertFalse(job.complete());
        }
    }

    @Test
    void odditiesOfNamesArePercentEncodedPerSegment() {
        assertEquals("/api/sync/staged/download/a1b2c3d4/IMG%20%231%20100%25%3F%27%22%C3%A9.jpg",
                SyncClient.downloadPath("a1b2c3d4/IMG #1 100%?'\"é.jpg"));
    }
}
