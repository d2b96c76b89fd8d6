import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The local site against the sync API's spec, over real HTTP on 127.0.0.1. */
class LocalSiteTest {
    static final String TOKEN = "s3cret-token";
    static final String NOT_CONFIGURED = "Sync API not configured (RHODESLI_SYNC_TOKEN not set)";

    @TempDir
    Path root;
    local_site.Running site;
    SiteHttp http;

    @BeforeEach
    void start() throws Exception {
        site = local_site.start(root, 0, TOKEN);
        http = new SiteHttp(site.url(), TOKEN);
    }

    @AfterEach
    void stop() {
        if (site != null) site.close();
    }

    static ObjectNode json(String text) {
        return (ObjectNode) JsonFiles.parse(text, "test JSON");
    }

    static ObjectNode identity(String id, String state, String mergedInto) {
        ObjectNode i = JsonFiles.object();
        i.put("identity_id", id);
        i.put("name", "Person " + id);
        i.put("state", state);
        i.putArray("anchor_ids");
        if (mergedInto != null) i.put("merged_into", mergedInto);
        i.put("future_field", "kept");
        return i;
    }

    void writeArchive() throws Exception {
        ObjectNode ids = JsonFiles.object();
        ids.put("schema_version", 1);
        ObjectNode all = ids.putObject("identities");
        all.set("c1", identity("c1", "CONFIRMED", null));
        all.set("c2", identity("c2", "CONFIRMED", null));
        all.set("c3", identity("c3", "CONFIRMED", "c1")); // merged away: not counted anywhere
        all.set("p1", identity("p1", "PROPOSED", null));
        all.set("i1", identity("i1", "INBOX", null));
        all.set("i2", identity("i2", "INBOX", null));
        all.set("i3", identity("i3", "INBOX", null));
        all.set("s1", identity("s1", "SKIPPED", null));
        ids.putArray("history").addObject().put("action", "create");
        JsonFiles.write(root.resolve("identities.json"), ids);
        ObjectNode photos = JsonFiles.object();
        photos.put("schema_version", 1);
        ObjectNode p = photos.putObject("photos");
        p.putObject("0123456789abcdef").put("path", "Image 001_compress.jpg").put("width", 2352).put("height", 2944);
        p.putObject("fedcba9876543210").put("path", "Béatrice.jpg").put("width", 10).put("height", new java.math.BigDecimal("1.50"));
        photos.putObject("face_to_photo");
        JsonFiles.write(root.resolve("photo_index.json"), photos);
    }

    Path stagedFile(String rel, byte[] bytes) throws Exception {
        Path p = root.resolve("staging").resolve(rel);
        Files.createDirectories(p.getParent());
        Files.write(p, bytes);
        return p;
    }

    // ------------------------------------------------------------------ status, auth, routing

    @Test
    void statusIsPublicAndCountsLiveIdentitiesByState() throws Exception {
        writeArchive();
        for (SiteHttp client : List.of(http, http.withToken(null), http.withToken("wrong"))) {
            SiteHttp.Response r = client.get("/api/sync/status");
            assertEquals(200, r.status(), r.body());
            assertTrue(r.header("Content-Type").startsWith("application/json"));
            JsonNode s = r.json();
            assertEquals(List.of("identities", "confirmed", "proposed", "inbox", "photos", "timestamp"), fieldNames(s));
            assertEquals(7, s.get("identities").asInt(), "the merged-away identity is not counted");
            assertEquals(2, s.get("confirmed").asInt());
            assertEquals(1, s.get("proposed").asInt());
            assertEquals(3, s.get("inbox").asInt());
            assertEquals(2, s.get("photos").asInt());
            OffsetDateTime t = OffsetDateTime.parse(s.get("timestamp").asText());
            assertEquals(0, t.getOffset().getTotalSeconds());
            assertTrue(Math.abs(t.toInstant().getEpochSecond() - Instant.now().getEpochSecond()) < 60);
        }
        // an empty site answers zeros, and stays public when no token is configured
        try (local_site.Running empty = local_site.start(Files.createTempDirectory(root, "empty"), 0, null)) {
            SiteHttp.Response r = new SiteHttp(empty.url(), null).get("/api/sync/status");
            assertEquals(200, r.status());
            assertEquals(0, r.json().get("identities").asInt());
            assertEquals(0, r.json().get("photos").asInt());
        }
    }

    static List<String> fieldNames(JsonNode n) {
        List<String> out = new ArrayList<>();
        n.fieldNames().forEachRemaining(out::add);
        return out;
    }

    /** Every authenticated endpoint: method, path, body. */
    static final List<String[]> AUTHENTICATED = List.of(
            new String[] {"GET", "/api/sync/identities", null},
            new String[] {"GET", "/api/sync/photo-index", null},
            new String[] {"GET", "/api/sync/annotations", null},
            new String[] {"GET", "/api/sync/staged", null},
            new String[] {"GET", "/api/sync/staged/download/a1b2c3d4/IMG_0001.jpg", null},
            new String[] {"POST", "/api/sync/staged/clear", "{\"all\": true}"},
            new String[] {"POST", "/api/sync/staged/mark-processed", "{\"all\": true}"},
            new String[] {"POST", "/api/sync/push", "{\"identities\": {\"identities\": {}}}"});

    @Test
    void everyAuthenticatedEndpointRefusesMissingOrWrongTokensAndNothingChanges() throws Exception {
        writeArchive();
        stagedFile("a1b2c3d4/IMG_0001.jpg", new byte[] {1, 2, 3});
        byte[] before = Files.readAllBytes(root.resolve("identities.json"));
        List<SiteHttp> bad = List.of(http.withToken(null), http.withToken("wrong"), http.withToken(TOKEN + "x"), http.withToken(""));
        for (String[] e : AUTHENTICATED) {
            for (SiteHttp client : bad) {
                SiteHttp.Response r = client.send(e[0], e[1], e[2]);
                assertEquals(401, r.status(), e[1]);
                assertEquals("Unauthorized", r.body(), e[1]);
            }
            // the scheme is case-sensitive in production ("Bearer " exactly)
            var req = java.net.http.HttpRequest.newBuilder(java.net.URI.create(site.url() + e[1]))
                    .header("Authorization", "bearer " + TOKEN)
                    .method(e[0], e[2] == null ? java.net.http.HttpRequest.BodyPublishers.noBody() : java.net.http.HttpRequest.BodyPublishers.ofString(e[2]))
                    .build();
            var r = java.net.http.HttpClient.newHttpClient().send(req, java.net.http.HttpResponse.BodyHandlers.ofString());
            assertEquals(401, r.statusCode(), e[1]);
            // and with the right token each GET answers (the POSTs would change the data checked below)
            if (e[0].equals("GET")) {
                SiteHttp.Response ok = http.send(e[0], e[1], e[2]);
                assertEquals(200, ok.status(), e[1] + ": " + ok.body());
            }
        }
        assertArrayEquals(before, Files.readAllBytes(root.resolve("identities.json")));
        assertTrue(Files.exists(root.resolve("staging/a1b2c3d4/IMG_0001.jpg")), "refused clears remove nothing");
    }

    @Test
    void withoutAConfiguredTokenEveryAuthenticatedEndpointAnswers503() throws Exception {
        writeArchive();
        stagedFile("a1b2c3d4/IMG_0001.jpg", new byte[] {1});
        site.close();
        site = local_site.start(root, 0, null);
        for (String[] e : AUTHENTICATED) {
            for (String token : new String[] {null, TOKEN}) {
                SiteHttp.Response r = new SiteHttp(site.url(), token).send(e[0], e[1], e[2]);
                assertEquals(503, r.status(), e[1]);
                assertEquals(NOT_CONFIGURED, r.body());
            }
        }
        assertTrue(Files.exists(root.resolve("staging/a1b2c3d4/IMG_0001.jpg")));
        assertEquals(200, new SiteHttp(site.url(), null).get("/api/sync/status").status());
    }

    @Test
    void unknownEndpointsAre404AndWrongMethods405() throws Exception {
        for (String path : List.of("/api/sync/nope", "/api/sync/", "/", "/api/sync/staged/download", "/api/sync/identities/extra")) {
            SiteHttp.Response r = http.get(path);
            assertEquals(404, r.status(), path);
            assertEquals("Not Found", r.body());
        }
        String[][] wrong = {{"POST", "/api/sync/status"}, {"GET", "/api/sync/push"}, {"GET", "/api/sync/staged/clear"},
                {"GET", "/api/sync/staged/mark-processed"}, {"DELETE", "/api/sync/identities"}, {"PUT", "/api/sync/staged/download/x.jpg"}};
        for (String[] w : wrong) {
            SiteHttp.Response r = http.send(w[0], w[1], w[0].equals("GET") || w[0].equals("DELETE") ? null : "{}");
            assertEquals(405, r.status(), w[0] + " " + w[1]);
            assertEquals("Method Not Allowed", r.body());
        }
        // the method is checked before the token, as production's router does
        assertEquals(405, http.withToken(null).get("/api/sync/push").status());
    }

    // ------------------------------------------------------------------ whole documents

    @Test
    void documentsAreServedAsStoredOr404() throws Exception {
        for (String path : List.of("/api/sync/identities", "/api/sync/photo-index")) {
            SiteHttp.Response r = http.get(path);
            assertEquals(404, r.status());
            assertEquals("File not found", r.body());
        }
        SiteHttp.Response noAnnotations = http.get("/api/sync/annotations");
        assertEquals(200, noAnnotations.status());
        assertEquals(json("{\"schema_version\": 1, \"annotations\": {}}"), noAnnotations.json());

        writeArchive();
        JsonFiles.write(root.resolve("annotations.json"), json("{\"schema_version\": 1, \"annotations\": {\"x\": {\"text\": \"Ḥayyim, 1932\"}}}"));
        assertEquals(JsonFiles.read(root.resolve("identities.json")), http.get("/api/sync/identities").json());
        SiteHttp.Response index = http.get("/api/sync/photo-index");
        assertEquals(JsonFiles.read(root.resolve("photo_index.json")), index.json());
        assertTrue(index.body().contains("Béatrice") && index.body().contains("1.50"), "UTF-8 text and exact numbers: " + index.body());
        assertEquals("Ḥayyim, 1932", http.get("/api/sync/annotations").json().at("/annotations/x/text").asText());

        Files.writeString(root.resolve("identities.json"), "{\"identities\": {");
        SiteHttp.Response broken = http.get("/api/sync/identities");
        assertEquals(500, broken.status(), "a corrupt file is the server's failure, as in production");
    }

    // ------------------------------------------------------------------ staged listing and downloads

    @Test
    void stageUploadLaysOutJobsAndTheListingDescribesEveryFile() throws Exception {
        Map<String, byte[]> first = new LinkedHashMap<>();
        first.put("IMG_0001.jpg", new byte[1000]);
        first.put("family photo 1950.jpg", new byte[] {1, 2});
        local_site.stageUpload(root, "a1b2c3d4", "Vida Capeluto NYC Collection", "Capeluto", first);
        local_site.stageUpload(root, "0badc0de", "Cousins", "Cousins", Map.of("IMG_0001.jpg", new byte[5]));
        Path back = stagedFile("back_images/IMG_0001_back.jpg", new byte[7]);
        Files.setLastModifiedTime(back, FileTime.from(Instant.parse("2026-02-10T14:03:11.201Z")));

        JsonNode meta = JsonFiles.read(root.resolve("staging/a1b2c3d4/_metadata.json"));
        assertEquals(List.of("job_id", "source", "collection", "source_url", "files", "uploaded_at", "processing_enabled", "uploader_email"), fieldNames(meta));
        assertEquals("a1b2c3d4", meta.get("job_id").asText());
        assertEquals("Vida Capeluto NYC Collection", meta.get("source").asText());
        assertEquals("[\"IMG_0001.jpg\",\"family_photo_1950.jpg\"]", meta.get("files").toString(), "the site replaces spaces with _");
        JsonNode pending = JsonFiles.read(root.resolve("pending_uploads.json"));
        assertEquals("staged", pending.at("/uploads/a1b2c3d4/status").asText());
        assertEquals("Cousins", pending.at("/uploads/0badc0de/collection").asText());

        SiteHttp.Response r = http.get("/api/sync/staged");
        assertEquals(200, r.status());
        JsonNode listing = r.json();
        assertEquals(List.of("files", "total_files", "total_size_bytes"), fieldNames(listing));
        Map<String, JsonNode> byPath = new LinkedHashMap<>();
        long total = 0;
        for (JsonNode f : listing.get("files")) {
            assertEquals(List.of("filename", "path", "size_bytes", "uploaded_at"), fieldNames(f));
            byPath.put(f.get("path").asText(), f);
            total += f.get("size_bytes").asLong();
            assertTrue(f.get("uploaded_at").asText().matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}\\+00:00"), f.toString());
        }
        assertEquals(List.of("0badc0de/IMG_0001.jpg", "0badc0de/_metadata.json", "a1b2c3d4/IMG_0001.jpg", "a1b2c3d4/_metadata.json",
                "a1b2c3d4/family_photo_1950.jpg", "back_images/IMG_0001_back.jpg"), new ArrayList<>(byPath.keySet()));
        assertEquals(6, listing.get("total_files").asInt());
        assertEquals(total, listing.get("total_size_bytes").asLong());
        assertEquals(1000, byPath.get("a1b2c3d4/IMG_0001.jpg").get("size_bytes").asInt());
        assertEquals("IMG_0001_back.jpg", byPath.get("back_images/IMG_0001_back.jpg").get("filename").asText());
        assertEquals("2026-02-10T14:03:11.201+00:00", byPath.get("back_images/IMG_0001_back.jpg").get("uploaded_at").asText(), "mtime");
        assertEquals(Files.size(root.resolve("staging/a1b2c3d4/_metadata.json")), byPath.get("a1b2c3d4/_metadata.json").get("size_bytes").asLong());

        // no staging folder at all: an empty listing
        try (local_site.Running empty = local_site.start(Files.createTempDirectory(root, "empty"), 0, TOKEN)) {
            assertEquals(json("{\"files\": [], \"total_files\": 0, \"total_size_bytes\": 0}"), new SiteHttp(empty.url(), TOKEN).get("/api/sync/staged").json());
        }
    }

    static final List<String> ODD_NAMES = List.of("IMG 0001 (1).jpg", "Béatrice Ḥayyim 1932.jpg", "a#b.jpg", "100%.jpg", "100%25.jpg",
            "why?.jpg", "it's \"quoted\".jpg", "plus+sign&amp;=.jpg", "emoji 😀.jpg", "semi;colon,comma.jpg", "back\\slash.jpg");

    @Test
    void oddNamesDownloadByteForByte() throws Exception {
        Random rnd = new Random(7);
        Map<String, byte[]> contents = new LinkedHashMap<>();
        for (String name : ODD_NAMES) {
            byte[] b = new byte[100 + rnd.nextInt(1000)];
            rnd.nextBytes(b);
            contents.put("a1b2c3d4/" + name, b);
            stagedFile("a1b2c3d4/" + name, b);
        }
        List<String> listed = new ArrayList<>();
        for (JsonNode f : http.get("/api/sync/staged").json().get("files")) listed.add(f.get("path").asText());
        for (String rel : contents.keySet()) assertTrue(listed.contains(rel), "listed as-is: " + rel);

        for (Map.Entry<String, byte[]> e : contents.entrySet()) {
            SiteHttp.Response r = http.get("/api/sync/staged/download/" + SiteHttp.encodePath(e.getKey()));
            assertEquals(200, r.status(), e.getKey() + ": " + r.body());
            assertArrayEquals(e.getValue(), r.bytes(), e.getKey());
            assertEquals("application/octet-stream", r.header("Content-Type"));
            assertTrue(r.header("Content-Disposition").startsWith("attachment; filename"), r.header("Content-Disposition"));
        }
        // "100%25.jpg" and "100%.jpg" are two files: each segment is decoded exactly once
        assertArrayEquals(contents.get("a1b2c3d4/100%25.jpg"), http.get("/api/sync/staged/download/a1b2c3d4/100%2525.jpg").bytes());
        // an empty file is an empty 200, not an error
        stagedFile("a1b2c3d4/empty.jpg", new byte[0]);
        SiteHttp.Response empty = http.get("/api/sync/staged/download/a1b2c3d4/empty.jpg");
        assertEquals(200, empty.status());
        assertEquals(0, empty.bytes().length);
    }

    @Test
    void hostilePathsAre400AndMissingFiles404() throws Exception {
        writeArchive();
        stagedFile("a1b2c3d4/IMG_0001.jpg", new byte[] {42});
        Path outside = Files.writeString(root.getParent().resolve(root.getFileName() + "-secret.txt"), "secret");
        try {
            Files.createSymbolicLink(root.resolve("staging/escape.txt"), outside);
            Files.createSymbolicLink(root.resolve("staging/escape_dir"), root);
        } catch (UnsupportedOperationException | java.io.IOException e) {
            // a file system without symbolic links: the other cases still run
        }
        String d = "/api/sync/staged/download/";
        List<String> invalid = List.of(
                "a1b2c3d4/../../identities.json", "../identities.json", "..", "a1b2c3d4/..",
                "%2e%2e/identities.json", "%2E%2E/%2E%2E/identities.json", "a1b2c3d4/%2e%2e/%2e%2e/identities.json",
                "..%2Fidentities.json", "%2e%2e%2fidentities.json",
                "/etc/passwd", "%2Fetc%2Fpasswd", "%2F",
                "a1b2c3d4%2FIMG_0001.jpg", "a1b2c3d4/IMG%2F0001.jpg",
                "a1b2c3d4/%00IMG.jpg", "a1b2c3d4/%C3%28.jpg",
                "a1b2c3d4/IMG..jpg");
        for (String p : invalid) {
            // over a raw socket: java.net.URI would refuse some of these, and no client may tidy them up
            SiteHttp.Response r = http.rawGet(d + p);
            assertEquals(400, r.status(), p + " -> " + r.body());
            assertEquals("Invalid path", r.body(), p);
        }
        // a malformed escape never reaches the site's code: the JDK's HTTP server answers its own 400 page
        for (String p : List.of("a1b2c3d4/IMG%zz.jpg", "a1b2c3d4/IMG%2.jpg", "%")) {
            assertEquals(400, http.rawGet(d + p).status(), p);
        }
        if (Files.isSymbolicLink(root.resolve("staging/escape.txt"))) {
            assertEquals(400, http.get(d + "escape.txt").status(), "a link out of staging/ is refused");
            assertEquals(400, http.get(d + "escape_dir/identities.json").status());
        }
        for (String p : List.of("a1b2c3d4/IMG_0002.jpg", "nojob/IMG_0001.jpg", "a1b2c3d4", "a1b2c3d4/", "")) {
            SiteHttp.Response r = http.get(d + p);
            assertEquals(404, r.status(), p);
            assertEquals("File not found", r.body());
        }
        assertArrayEquals(new byte[] {42}, http.get(d + "a1b2c3d4/IMG_0001.jpg").bytes());
        assertEquals("secret", Files.readString(outside));
        // the same refusals through java.net.http, for the paths it can carry
        for (String p : List.of("a1b2c3d4/../../identities.json", "%2e%2e/identities.json", "a1b2c3d4%2FIMG_0001.jpg", "/etc/passwd")) {
            assertEquals(400, http.get(d + p).status(), p);
        }
        assertEquals(401, http.withToken(null).rawGet(d + "%2e%2e/identities.json").status(), "the token is checked before the path");
        Files.deleteIfExists(root.resolve("staging/escape.txt"));
        Files.deleteIfExists(root.resolve("staging/escape_dir"));
        Files.delete(outside);
    }

    @Test
    void aLargeFileIsStreamedWhole() throws Exception {
        Path big = root.resolve("staging/a1b2c3d4/big scan.tif");
        Files.createDirectories(big.getParent());
        byte[] block = new byte[1 << 20];
        new Random(1).nextBytes(block);
        java.security.MessageDigest md = java.security.MessageDigest.getInstance("SHA-256");
        try (var out = Files.newOutputStream(big)) {
            for (int i = 0; i < 50; i++) {
                block[0] = (byte) i;
                out.write(block);
                md.update(block);
            }
        }
        // a client that stalls mid-download (slow link) holds one worker, not the whole site
        try (java.net.Socket slow = new java.net.Socket("127.0.0.1", site.port())) {
            slow.getOutputStream().write(("GET /api/sync/staged/download/a1b2c3d4/big%20scan.tif HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                    + TOKEN + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
            assertTrue(new String(slow.getInputStream().readNBytes(12), StandardCharsets.ISO_8859_1).startsWith("HTTP/1.1 200"));
            long t0 = System.nanoTime();
            SiteHttp.Response listing = http.get("/api/sync/staged");
            assertEquals(200, listing.status());
            assertEquals(50L << 20, listing.json().at("/files/0/size_bytes").asLong());
            assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(10), "the listing did not wait for the stalled download");
        }
        String[] got = http.digestOf("/api/sync/staged/download/" + SiteHttp.encodePath("a1b2c3d4/big scan.tif"));
        assertEquals("200", got[0]);
        assertEquals(String.valueOf(50L << 20), got[2]);
        assertEquals(java.util.HexFormat.of().formatHex(md.digest()), got[1]);
    }

    // ------------------------------------------------------------------ clear

    @Test
    void clearRemovesFilesAndJobFoldersAndEmptyParentsButNothingOutsideStaging() throws Exception {
        writeArchive();
        byte[] identitiesBefore = Files.readAllBytes(root.resolve("identities.json"));
        stagedFile("a1b2c3d4/IMG_0001.jpg", new byte[] {1});
        stagedFile("a1b2c3d4/IMG_0002.jpg", new byte[] {2});
        stagedFile("a1b2c3d4/_metadata.json", "{}".getBytes(StandardCharsets.UTF_8));
        stagedFile("0badc0de/IMG_0001.jpg", new byte[] {3});
        stagedFile("0badc0de/_metadata.json", "{}".getBytes(StandardCharsets.UTF_8));
        stagedFile("back_images/deep/only.jpg", new byte[] {4});
        stagedFile("ffff0000/Béatrice #1.jpg", new byte[] {5});

        String body = """
                {"files": ["a1b2c3d4/IMG_0001.jpg", "0badc0de", "back_images/deep/only.jpg", "ffff0000/Béatrice #1.jpg",
                           "a1b2c3d4/missing.jpg", "../identities.json", "/etc/passwd", "a1b2c3d4/../../identities.json",
                           "", ".", "a1b2c3d4/..", 5]}""";
        SiteHttp.Response r = http.post("/api/sync/staged/clear", body);
        assertEquals(200, r.status(), r.body());
        JsonNode out = r.json();
        assertEquals(List.of("removed", "errors", "count"), fieldNames(out));
        assertEquals("[\"a1b2c3d4/IMG_0001.jpg\",\"0badc0de\",\"back_images/deep/only.jpg\",\"ffff0000/Béatrice #1.jpg\"]", out.get("removed").toString());
        assertEquals(4, out.get("count").asInt());
        Map<String, String> errors = new LinkedHashMap<>();
        for (JsonNode e : out.get("errors")) errors.put(e.get("path").asText(), e.get("error").asText());
        assertEquals("not found", errors.get("a1b2c3d4/missing.jpg"));
        for (String bad : List.of("../identities.json", "/etc/passwd", "a1b2c3d4/../../identities.json", "", ".", "a1b2c3d4/..", "5")) {
            assertEquals("invalid path", errors.get(bad), bad + " in " + errors);
        }
        assertEquals(8, errors.size());

        Path staging = root.resolve("staging");
        assertFalse(Files.exists(staging.resolve("a1b2c3d4/IMG_0001.jpg")));
        assertTrue(Files.exists(staging.resolve("a1b2c3d4/IMG_0002.jpg")), "the rest of the job stays");
        assertFalse(Files.exists(staging.resolve("0badc0de")), "a whole job folder goes");
        assertFalse(Files.exists(staging.resolve("back_images")), "empty parents go, up to staging/");
        assertFalse(Files.exists(staging.resolve("ffff0000")), "the job folder emptied by the clear goes too");
        assertTrue(Files.isDirectory(staging), "staging/ itself stays");
        assertArrayEquals(identitiesBefore, Files.readAllBytes(root.resolve("identities.json")));

        SiteHttp.Response all = http.post("/api/sync/staged/clear", "{\"all\": true}");
        assertEquals(200, all.status());
        assertEquals(json("{\"cleared\": \"all\", \"removed\": [\"a1b2c3d4\"], \"count\": 1}"), all.json());
        try (var s = Files.list(staging)) {
            assertEquals(0, s.count());
        }
        assertArrayEquals(identitiesBefore, Files.readAllBytes(root.resolve("identities.json")));
    }

    @Test
    void clearRefusesBadBodies() throws Exception {
        stagedFile("a1b2c3d4/IMG_0001.jpg", new byte[] {1});
        Object[][] cases = {{"{}", "No files specified"}, {"{\"files\": []}", "No files specified"}, {"{\"all\": false}", "No files specified"},
                {"not json", "Invalid JSON body"}, {"", "Invalid JSON body"}, {"[\"a1b2c3d4\"]", "Request body must be a JSON object"},
                {"{\"files\": \"a1b2c3d4\"}", "'files' must be a list of paths relative to staging/"}};
        for (Object[] c : cases) {
            SiteHttp.Response r = http.post("/api/sync/staged/clear", (String) c[0]);
            assertEquals(400, r.status(), (String) c[0]);
            assertEquals(c[1], r.body());
        }
        assertTrue(Files.exists(root.resolve("staging/a1b2c3d4/IMG_0001.jpg")));
    }

    // ------------------------------------------------------------------ mark-processed

    @Test
    void markProcessedChangesOnlyStatusAndKeepsUnknownFields() throws Exception {
        String original = """
                {"uploads": {
                  "a1b2c3d4": {"job_id": "a1b2c3d4", "status": "staged", "source": "Capeluto", "reviewer_note": "keep me", "files": ["x.jpg"]},
                  "0badc0de": {"job_id": "0badc0de", "status": "approved", "source": "Cousins"},
                  "ffff0000": {"job_id": "ffff0000", "status": "pending", "source": "Not yet"},
                  "eeee1111": {"job_id": "eeee1111", "status": "processed", "processed_at": "2026-01-01T00:00:00+00:00"}
                 },
                 "site_version": "2.7"}
                """;
        Files.writeString(root.resolve("pending_uploads.json"), original);
        SiteHttp.Response r = http.post("/api/sync/staged/mark-processed", "{\"job_ids\": [\"a1b2c3d4\", \"0badc0de\", \"ffff0000\", \"eeee1111\", \"nope\"]}");
        assertEquals(200, r.status(), r.body());
        assertEquals(json("{\"marked_processed\": [\"a1b2c3d4\", \"0badc0de\"], \"count\": 2}"), r.json());
        ObjectNode after = JsonFiles.readObject(root.resolve("pending_uploads.json"));
        ObjectNode expected = json(original);
        for (String id : List.of("a1b2c3d4", "0badc0de")) {
            ObjectNode u = (ObjectNode) after.at("/uploads/" + id);
            OffsetDateTime.parse(u.get("processed_at").asText());
            assertEquals("processed_at", fieldNames(u).get(fieldNames(u).size() - 1), "added at the end");
            ((ObjectNode) expected.at("/uploads/" + id)).put("status", "processed").set("processed_at", u.get("processed_at"));
        }
        assertEquals(expected, after, "only status and processed_at change; unknown fields and order stay");
        assertEquals("keep me", after.at("/uploads/a1b2c3d4/reviewer_note").asText());

        // nothing to mark: the file is not rewritten
        byte[] bytes = Files.readAllBytes(root.resolve("pending_uploads.json"));
        assertEquals(json("{\"marked_processed\": [], \"count\": 0}"), http.post("/api/sync/staged/mark-processed", "{\"job_ids\": [\"nope\"]}").json());
        assertArrayEquals(bytes, Files.readAllBytes(root.resolve("pending_uploads.json")));

        for (String[] c : new String[][] {{"{}", "Must provide 'job_ids' or 'all'"}, {"{\"job_ids\": []}", "Must provide 'job_ids' or 'all'"},
                {"{\"job_ids\": \"a1b2c3d4\"}", "'job_ids' must be a list of job ids"}, {"{", "Invalid JSON body"}}) {
            SiteHttp.Response bad = http.post("/api/sync/staged/mark-processed", c[0]);
            assertEquals(400, bad.status(), c[0]);
            assertEquals(c[1], bad.body());
        }
    }

    @Test
    void markProcessedAllTakesOnlyStagedJobsInEitherLayout() throws Exception {
        local_site.stageUpload(root, "a1b2c3d4", "S", "C", Map.of("x.jpg", new byte[1]));
        local_site.stageUpload(root, "0badc0de", "S", "C", Map.of("y.jpg", new byte[1]));
        ObjectNode pending = JsonFiles.readObject(root.resolve("pending_uploads.json"));
        ((ObjectNode) pending.at("/uploads/0badc0de")).put("status", "approved");
        JsonFiles.write(root.resolve("pending_uploads.json"), pending);
        assertEquals(json("{\"marked_processed\": [\"a1b2c3d4\"], \"count\": 1}"), http.post("/api/sync/staged/mark-processed", "{\"all\": true}").json());
        assertEquals("approved", JsonFiles.read(root.resolve("pending_uploads.json")).at("/uploads/0badc0de/status").asText());

        // a list under "uploads", entries naming their job
        Files.writeString(root.resolve("pending_uploads.json"), """
                {"uploads": [{"job_id": "11112222", "status": "staged", "extra": [1, 2]}, {"job_id": "33334444", "status": "approved"}]}""");
        assertEquals(json("{\"marked_processed\": [\"33334444\"], \"count\": 1}"),
                http.post("/api/sync/staged/mark-processed", "{\"job_ids\": [\"33334444\"]}").json());
        assertEquals(json("{\"marked_processed\": [\"11112222\"], \"count\": 1}"), http.post("/api/sync/staged/mark-processed", "{\"all\": 1}").json());
        JsonNode list = JsonFiles.read(root.resolve("pending_uploads.json")).get("uploads");
        assertEquals("processed", list.get(0).get("status").asText());
        assertEquals("[1,2]", list.get(0).get("extra").toString());
        assertEquals("processed", list.get(1).get("status").asText());
        // no pending_uploads.json at all: nothing to mark, nothing created
        Files.delete(root.resolve("pending_uploads.json"));
        assertEquals(0, http.post("/api/sync/staged/mark-processed", "{\"all\": true}").json().get("count").asInt());
        assertFalse(Files.exists(root.resolve("pending_uploads.json")));
    }

    // ------------------------------------------------------------------ push

    @Test
    void pushBacksUpThenOverwritesAndAnswersAsProductionDoes() throws Exception {
        writeArchive();
        byte[] oldIdentities = Files.readAllBytes(root.resolve("identities.json"));
        byte[] oldIndex = Files.readAllBytes(root.resolve("photo_index.json"));
        ObjectNode identities = JsonFiles.readObject(root.resolve("identities.json"));
        ((ObjectNode) identities.get("identities")).set("n1", identity("n1", "INBOX", null));
        identities.put("new_top_level", "kept");
        ObjectNode annotations = json("{\"schema_version\": 1, \"annotations\": {\"a\": {}, \"b\": {}, \"c\": {}}}");
        ObjectNode body = JsonFiles.object();
        body.set("identities", identities);
        body.set("annotations", annotations);

        long before = Instant.now().getEpochSecond();
        SiteHttp.Response r = http.post("/api/sync/push", JsonFiles.compact(body));
        assertEquals(200, r.status(), r.body());
        JsonNode out = r.json();
        assertEquals(List.of("status", "results", "timestamp"), fieldNames(out));
        assertEquals("ok", out.get("status").asText());
        long ts = out.get("timestamp").asLong();
        assertTrue(ts >= before && ts <= Instant.now().getEpochSecond());
        assertEquals(json("{\"status\": \"written\", \"count\": 9, \"backup\": \"identities.json.bak." + ts + "\"}"), out.at("/results/identities"));
        assertEquals(json("{\"status\": \"written\", \"count\": 3, \"backup\": \"annotations.json.bak." + ts + "\"}"), out.at("/results/annotations"));
        assertEquals(List.of("identities", "annotations"), fieldNames(out.get("results")), "only what was sent");

        assertArrayEquals(oldIdentities, Files.readAllBytes(root.resolve("identities.json.bak." + ts)), "the backup is the old file, byte for byte");
        assertEquals(identities, JsonFiles.read(root.resolve("identities.json")), "overwritten with exactly what was sent");
        assertEquals(annotations, JsonFiles.read(root.resolve("annotations.json")));
        assertFalse(Files.exists(root.resolve("annotations.json.bak." + ts)), "nothing to back up when the file did not exist");
        assertArrayEquals(oldIndex, Files.readAllBytes(root.resolve("photo_index.json")), "not sent, not touched");
        assertEquals(8, http.get("/api/sync/status").json().get("identities").asInt(), "the site serves the pushed document at once");

        // photo_index counts its photos; production keeps only the 3 newest backups of each file
        for (long old : new long[] {100, 200, 300}) Files.writeString(root.resolve("photo_index.json.bak." + old), "{}");
        ObjectNode index = JsonFiles.readObject(root.resolve("photo_index.json"));
        SiteHttp.Response r2 = http.post("/api/sync/push", "{\"photo_index\": " + JsonFiles.compact(index) + "}");
        assertEquals(200, r2.status());
        long ts2 = r2.json().get("timestamp").asLong();
        assertEquals(2, r2.json().at("/results/photo_index/count").asInt());
        assertArrayEquals(oldIndex, Files.readAllBytes(root.resolve("photo_index.json.bak." + ts2)));
        assertTrue(Files.exists(root.resolve("photo_index.json.bak.300")) && Files.exists(root.resolve("photo_index.json.bak.200")));
        assertFalse(Files.exists(root.resolve("photo_index.json.bak.100")), "pruned like production");
        assertTrue(Files.exists(root.resolve("identities.json.bak." + ts)), "other files' backups are not pruned");
    }

    @Test
    void pushRefusesBadBodiesAndWritesNothing() throws Exception {
        writeArchive();
        byte[] ids = Files.readAllBytes(root.resolve("identities.json"));
        String valid = JsonFiles.compact(JsonFiles.read(root.resolve("identities.json")));
        String mustProvide = "Must provide one of ['annotations', 'date_labels', 'identities', 'photo_index', 'photo_locations'] in request body";
        String[][] cases = {
                {"{}", mustProvide}, {"{\"other\": {\"a\": 1}}", mustProvide}, {"{\"identities\": {}}", mustProvide},
                {"{\"identities\": null}", mustProvide},
                {"{\"identities\": [1, 2]}", "identities must be a JSON object"},
                {"{\"identities\": \"x\"}", "identities must be a JSON object"},
                {"{\"identities\": " + valid + ", \"photo_index\": [1]}", "photo_index must be a JSON object"},
                {"{\"annotations\": 5}", "annotations must be a JSON object"},
                {"not json at all", "Invalid JSON body"}, {"{\"identities\": {", "Invalid JSON body"},
                {"[1]", "Request body must be a JSON object"}, {"null", "Request body must be a JSON object"}};
        for (String[] c : cases) {
            SiteHttp.Response r = http.post("/api/sync/push", c[0]);
            assertEquals(400, r.status(), c[0]);
            assertEquals(c[1], r.body(), c[0]);
        }
        assertArrayEquals(ids, Files.readAllBytes(root.resolve("identities.json")), "a refused push writes nothing, not even the valid half");
        try (var s = Files.list(root)) {
            assertTrue(s.noneMatch(p -> p.getFileName().toString().contains(".bak.")), "and makes no backup");
        }
    }

    // ------------------------------------------------------------------ the command line

    @Test
    void commandLineServesUntilKilled() throws Exception {
        writeArchive();
        stagedFile("a1b2c3d4/IMG 0001.jpg", new byte[] {9, 8, 7});
        Path kit = KitConfig.findRoot();
        ProcessBuilder pb = new ProcessBuilder(kit.resolve("jbang").toString(), "sandbox/local_site.java", "--root", root.toString(), "--port", "0")
                .directory(kit.toFile()).redirectErrorStream(true);
        pb.environment().put("RHODESLI_SYNC_TOKEN", TOKEN);
        pb.environment().put("KIT_ROOT", kit.toString());
        Process p = pb.start();
        BlockingQueue<String> lines = new ArrayBlockingQueue<>(1000);
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) lines.offer(line);
            } catch (java.io.IOException ignored) {
                // the process was destroyed
            }
        });
        reader.setDaemon(true);
        reader.start();
        try {
            String url = null;
            StringBuilder seen = new StringBuilder();
            long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3); // the first run may build the script
            while (url == null && System.nanoTime() < deadline) {
                String line = lines.poll(1, TimeUnit.SECONDS);
                if (line == null) {
                    assertTrue(p.isAlive(), "the site exited early: " + seen);
                    continue;
                }
                seen.append(line).append('\n');
                java.util.regex.Matcher m = java.util.regex.Pattern.compile("Listening on (http://127\\.0\\.0\\.1:\\d+)").matcher(line);
                if (m.find()) url = m.group(1);
            }
            assertNotNull(url, "no URL line in: " + seen);
            assertFalse(seen.toString().contains(TOKEN), "the token is never printed");
            SiteHttp client = new SiteHttp(url, TOKEN);
            assertEquals(7, client.get("/api/sync/status").json().get("identities").asInt());
            assertArrayEquals(new byte[] {9, 8, 7}, client.get("/api/sync/staged/download/a1b2c3d4/IMG%200001.jpg").bytes());
            assertEquals(401, client.withToken("wrong").get("/api/sync/staged").status());
            String logLine = lines.poll(5, TimeUnit.SECONDS);
            while (logLine != null && !logLine.contains("/api/sync/status")) logLine = lines.poll(5, TimeUnit.SECONDS);
            assertNotNull(logLine, "each request is logged");
        } finally {
            p.destroy();
            if (!p.waitFor(10, TimeUnit.SECONDS)) p.destroyForcibly();
        }
        KitProcess.Result usage = KitProcess.run("sandbox/local_site.java", "--port", "0");
        assertEquals(2, usage.exitCode(), usage.all());
        assertTrue(usage.stderr().contains("--root DIR is required"), usage.stderr());
    }
}
