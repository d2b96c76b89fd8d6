import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.awscore.endpoints.AwsEndpointAttribute;
import software.amazon.awssdk.awscore.endpoints.authscheme.SigV4AuthScheme;
import software.amazon.awssdk.endpoints.Endpoint;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.endpoints.S3EndpointParams;
import software.amazon.awssdk.services.s3.endpoints.S3EndpointProvider;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;

/**
 * Step 5 against a real S3-compatible server: the sandbox's S3Proxy, started once in this JVM
 * (each test uses its own bucket), and a failing proxy in front of it for the retry cases.
 */
class UploadToR2Test {
    static Path storeRoot;
    static local_r2.Running store;
    static final AtomicInteger buckets = new AtomicInteger();
    static final Random random = new Random(5);

    @BeforeAll
    static void startStore() throws Exception {
        storeRoot = Files.createTempDirectory("upload-test-store");
        store = local_r2.start(storeRoot, 0, null);
    }

    @AfterAll
    static void stopStore() {
        if (store != null) store.close();
    }

    /** A small archive: 3 registered photos (one missing on disk), 4 faces (one crop missing), plus unregistered strays. */
    record Archive(Path root, Path data, Path photos, Path crops) {
        Path photo(String name) {
            return photos.resolve(name);
        }
    }

    static Archive archive(Path dir) throws Exception {
        Path data = Files.createDirectories(dir.resolve("data"));
        Path photos = Files.createDirectories(dir.resolve("raw_photos"));
        Path crops = Files.createDirectories(photos.resolve("crops"));
        Files.write(photos.resolve("Image 001_compress.jpg"), bytes(300_000));
        Files.write(photos.resolve("Béatrice à Rhodes.png"), bytes(40_000));
        Files.write(photos.resolve("not registered.jpg"), bytes(1000));
        Files.write(crops.resolve("Image 001_compress:face0.jpg"), bytes(8000));
        Files.write(crops.resolve("Image 001_compress:face1.jpg"), bytes(9000));
        Files.write(crops.resolve("inbox_0123456789ab.jpg"), bytes(7000));
        Files.write(crops.resolve("inbox_ffffffffffff.jpg"), bytes(7000)); // not registered
        Files.writeString(data.resolve("photo_index.json"), """
                {"schema_version": 1,
                 "photos": {
                   "a000000000000001": {"path": "Image 001_compress.jpg", "face_ids": ["Image 001_compress:face0", "Image 001_compress:face1"], "width": 10, "height": 10},
                   "a000000000000002": {"path": "raw_photos/Béatrice à Rhodes.png", "face_ids": ["inbox_0123456789ab"], "width": 10, "height": 10, "extra": {"kept": true}},
                   "a000000000000003": {"path": "lost.jpg", "face_ids": ["inbox_aaaaaaaaaaaa"], "width": 10, "height": 10}},
                 "face_to_photo": {"Image 001_compress:face0": "a000000000000001", "Image 001_compress:face1": "a000000000000001",
                                   "inbox_0123456789ab": "a000000000000002", "inbox_aaaaaaaaaaaa": "a000000000000003"}}
                """);
        return new Archive(dir, data, photos, crops);
    }

    static byte[] bytes(int n) {
        byte[] b = new byte[n];
        random.nextBytes(b);
        return b;
    }

    static String newBucket() {
        String b = "test-" + buckets.incrementAndGet();
        store.createBucket(b);
        return b;
    }

    static KitConfig config(Path root, String endpoint, String bucket, String secret) {
        Map<String, String> env = new HashMap<>();
        env.put(KitConfig.R2_ENDPOINT_URL, endpoint);
        env.put(KitConfig.R2_ACCESS_KEY_ID, store.accessKey());
        env.put(KitConfig.R2_SECRET_ACCESS_KEY, secret);
        env.put(KitConfig.R2_BUCKET_NAME, bucket);
        return KitConfig.load(root, env);
    }

    static KitConfig config(Archive a, String bucket) {
        return config(a.root(), store.endpoint(), bucket, store.secretKey());
    }

    static KitContext context(Archive a, KitConfig config, boolean execute, ByteArrayOutputStream out) {
        PrintStream ps = new PrintStream(out, true, StandardCharsets.UTF_8);
        Console console = new Console(false, ps, ps, new java.io.ByteArrayInputStream(new byte[0]));
        return new KitContext(config, Layout.under(a.root(), KitConfig.findRoot().resolve("models")), console,
                execute ? KitContext.Mode.APPLY : KitContext.Mode.DRY_RUN);
    }

    /** Runs the step in-process as its script does ({"step", "dry_run", "plan", "result", "failures"}); the console output goes to {@code out}. */
    static ObjectNode run(Archive a, KitConfig config, boolean execute, ByteArrayOutputStream out) throws Exception {
        return StepRunner.run(new UploadStep(UploadStep.Options.defaults()), context(a, config, execute, out)).toJson();
    }

    static ObjectNode run(Archive a, String bucket, boolean execute) throws Exception {
        return run(a, config(a, bucket), execute, new ByteArrayOutputStream());
    }

    /** Where S3Proxy's filesystem backend keeps an object. */
    static Path stored(String bucket, String key) {
        return storeRoot.resolve(bucket).resolve(key);
    }

    static S3Client s3() {
        return S3Client.builder().endpointOverride(URI.create(store.endpoint())).region(Region.of("auto")).forcePathStyle(true)
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(store.accessKey(), store.secretKey())))
                .build();
    }

    static List<String> keys(JsonNode summary, String action) {
        List<String> out = new ArrayList<>();
        for (JsonNode i : summary.at("/plan/items")) if (action == null || i.get("action").asText().equals(action)) out.add(i.get("key").asText());
        return out;
    }

    @Test
    void dryRunShowsExactlyThePlanThatExecuteCarriesOut(@TempDir Path dir) throws Exception {
        Archive a = archive(dir);
        String bucket = newBucket();
        ByteArrayOutputStream dryOut = new ByteArrayOutputStream();
        ObjectNode dry = run(a, config(a, bucket), false, dryOut);
        assertEquals(5, dry.at("/plan/new_objects/files").asInt(), dryOut.toString(StandardCharsets.UTF_8));
        assertEquals(300_000 + 40_000 + 8000 + 9000 + 7000, dry.at("/plan/to_send/bytes").asLong());
        assertTrue(dryOut.toString(StandardCharsets.UTF_8).contains("Dry run: nothing was changed. To do this, run ./jbang upload --execute."));
        try (var s = Files.list(stored(bucket, ""))) {
            assertEquals(0, s.count(), "a dry run sends nothing");
        }

        ObjectNode done = run(a, bucket, true);
        assertEquals(dry.get("plan"), done.get("plan"), "execute plans exactly what the dry run showed");
                assertEquals(5, done.at("/result/files_sent").asInt());
        assertEquals(dry.at("/plan/to_send/bytes").asLong(), done.at("/result/bytes_sent").asLong());
        assertEquals(0, done.at("/result/failed").size());

        // every registered file is there, byte for byte, under the keys production expects
        assertArrayEquals(Files.readAllBytes(a.photo("Image 001_compress.jpg")), Files.readAllBytes(stored(bucket, "raw_photos/Image 001_compress.jpg")));
        assertArrayEquals(Files.readAllBytes(a.photo("Béatrice à Rhodes.png")), Files.readAllBytes(stored(bucket, "raw_photos/Béatrice à Rhodes.png")));
        assertArrayEquals(Files.readAllBytes(a.crops().resolve("Image 001_compress:face1.jpg")),
                Files.readAllBytes(stored(bucket, "crops/Image 001_compress:face1.jpg")));
        assertTrue(Files.exists(stored(bucket, "crops/inbox_0123456789ab.jpg")));
        // files that are not registered are never sent
        assertFalse(Files.exists(stored(bucket, "raw_photos/not registered.jpg")));
        assertFalse(Files.exists(stored(bucket, "crops/inbox_ffffffffffff.jpg")));
        try (S3Client s3 = s3()) {
            assertEquals("image/jpeg", s3.headObject(b -> b.bucket(bucket).key("raw_photos/Image 001_compress.jpg")).contentType());
            assertEquals("image/png", s3.headObject(b -> b.bucket(bucket).key("raw_photos/Béatrice à Rhodes.png")).contentType());
            assertEquals("image/jpeg", s3.headObject(b -> b.bucket(bucket).key("crops/inbox_0123456789ab.jpg")).contentType());
        }
    }

    @Test
    void registeredFilesMissingLocallyAreReportedAndTheRestGoesOn(@TempDir Path dir) throws Exception {
        Archive a = archive(dir);
        String bucket = newBucket();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ObjectNode done = run(a, config(a, bucket), true, out);
        String text = out.toString(StandardCharsets.UTF_8);
        List<String> missing = new ArrayList<>();
        for (JsonNode m : done.at("/plan/missing")) missing.add(m.get("key").asText());
        assertEquals(List.of("raw_photos/lost.jpg", "crops/inbox_aaaaaaaaaaaa.jpg"), missing);
        assertTrue(text.contains("2 registered file(s) cannot be uploaded"), text);
        assertTrue(text.contains(a.photo("lost.jpg").toString()), "the message names the file it looked for: " + text);
        assertEquals(5, done.at("/result/files_sent").asInt());
        assertEquals(0, done.at("/result/failed").size(), "every file there was sent");
        // ... but two registered objects are in neither place: the step did not complete
        assertEquals(2, done.get("failures").size(), done.get("failures").toString());
        assertTrue(done.get("failures").get(0).asText().contains(a.photo("lost.jpg").toString())
                && done.get("failures").get(0).asText().contains("restore the file"), done.get("failures").toString());
    }

    @Test
    void secondRunSendsNothingAndAChangedPhotoIsSentAgain(@TempDir Path dir) throws Exception {
        Archive a = archive(dir);
        String bucket = newBucket();
        run(a, bucket, true);
        ObjectNode again = run(a, bucket, true);
        assertEquals(0, again.at("/plan/to_send/files").asInt());
        assertEquals(5, again.at("/plan/unchanged/files").asInt());
        assertEquals(0, again.at("/result/bytes_sent").asLong());
        for (JsonNode i : again.at("/plan/items")) assertEquals("etag", i.get("why").asText(), "single-part objects compare by listed ETag");
        JsonNode cache = JsonFiles.read(a.root().resolve(".kit/upload-md5-cache.json"));
        assertEquals(5, cache.get("files").size(), "local MD5s are remembered for the next run");

        // same size, different bytes: only the MD5 can tell (the remembered MD5 must not hide it)
        Path photo = a.photo("Image 001_compress.jpg");
        byte[] changed = Files.readAllBytes(photo);
        changed[1000] ^= 0x55;
        Files.write(photo, changed);
        ObjectNode third = run(a, bucket, true);
        assertEquals(List.of("raw_photos/Image 001_compress.jpg"), keys(third, "changed"));
        assertEquals(1, third.at("/result/files_sent").asInt());
        assertArrayEquals(changed, Files.readAllBytes(stored(bucket, "raw_photos/Image 001_compress.jpg")));
        // and a crop that grew
        Files.write(a.crops().resolve("inbox_0123456789ab.jpg"), bytes(7500));
        ObjectNode fourth = run(a, bucket, false);
        assertEquals(List.of("crops/inbox_0123456789ab.jpg"), keys(fourth, "changed"));
    }

    @Test
    void bigFilesGoInVerifiedPartsAndTheirMultipartEtagIsUsedNextTime(@TempDir Path dir) throws Exception {
        Archive a = archive(dir);
        String bucket = newBucket();
        byte[] scan = bytes(17 * 1024 * 1024 + 123);
        Files.write(a.photo("Image 001_compress.jpg"), scan); // the registered photo is now a 17 MB scan
        ObjectNode done = run(a, bucket, true);
        assertEquals(0, done.at("/result/failed").size(), done.toString());
        assertArrayEquals(scan, Files.readAllBytes(stored(bucket, "raw_photos/Image 001_compress.jpg")));
        String etag = Checksums.multipartEtag(a.photo("Image 001_compress.jpg"), ObjectTransfer.PART_SIZE);
        try (S3Client s3 = s3()) {
            HeadObjectResponse head = s3.headObject(b -> b.bucket(bucket).key("raw_photos/Image 001_compress.jpg"));
            assertTrue(head.eTag().contains("-3"), "sent in 3 parts of 8 MiB: " + head.eTag());
            assertEquals(etag, head.eTag().replace("\"", ""));
        }
        // The upload remembered the ETag it computed from the parts it sent: the next plan needs neither a read nor a HEAD.
        JsonNode cached = JsonFiles.read(a.root().resolve(".kit/upload-md5-cache.json")).at("/files")
                .get(a.photo("Image 001_compress.jpg").toAbsolutePath().normalize().toString());
        assertEquals(etag, cached.get("multipart_etag").asText(), cached.toString());
        ObjectNode again = run(a, bucket, false);
        JsonNode item = again.at("/plan/items").get(0);
        assertEquals("raw_photos/Image 001_compress.jpg", item.get("key").asText());
        assertEquals("unchanged", item.get("action").asText());
        assertEquals("multipart etag", item.get("why").asText());
        assertEquals(0, again.at("/plan/to_send/bytes").asLong());

        // same size, one byte different: the multipart ETag computed afresh tells
        scan[9_000_000] ^= 0x20;
        Files.write(a.photo("Image 001_compress.jpg"), scan);
        assertEquals(List.of("raw_photos/Image 001_compress.jpg"), keys(run(a, bucket, false), "changed"));
    }

    @Test
    void aMultipartObjectSentByAnotherToolIsComparedByItsMd5Metadata(@TempDir Path dir) throws Exception {
        Archive a = archive(dir);
        String bucket = newBucket();
        byte[] scan = bytes(11 * 1024 * 1024);
        Files.write(a.photo("Image 001_compress.jpg"), scan);
        String key = "raw_photos/Image 001_compress.jpg";
        // As rclone (5 MiB parts, MD5 in "md5chksum") or an earlier kit ("md5") leaves it: its ETag is not ours.
        try (S3Client s3 = s3()) {
            String md5 = Checksums.md5Hex(a.photo("Image 001_compress.jpg"));
            String id = s3.createMultipartUpload(b -> b.bucket(bucket).key(key).metadata(Map.of(ObjectTransfer.MD5_METADATA, md5))).uploadId();
            List<software.amazon.awssdk.services.s3.model.CompletedPart> parts = new ArrayList<>();
            int part = 5 * 1024 * 1024;
            for (int n = 0; n * part < scan.length; n++) {
                int from = n * part, pn = n + 1;
                byte[] chunk = java.util.Arrays.copyOfRange(scan, from, Math.min(scan.length, from + part));
                String e = s3.uploadPart(b -> b.bucket(bucket).key(key).uploadId(id).partNumber(pn),
                        software.amazon.awssdk.core.sync.RequestBody.fromBytes(chunk)).eTag();
                parts.add(software.amazon.awssdk.services.s3.model.CompletedPart.builder().partNumber(pn).eTag(e).build());
            }
            s3.completeMultipartUpload(b -> b.bucket(bucket).key(key).uploadId(id).multipartUpload(m -> m.parts(parts)));
        }
        JsonNode item = run(a, bucket, false).at("/plan/items").get(0);
        assertEquals(key, item.get("key").asText());
        assertEquals("unchanged", item.get("action").asText(), item.toString());
        assertEquals("md5 metadata", item.get("why").asText());
        scan[1] ^= 1;
        Files.write(a.photo("Image 001_compress.jpg"), scan);
        item = run(a, bucket, false).at("/plan/items").get(0);
        assertEquals("changed", item.get("action").asText(), item.toString());
        assertEquals("md5 metadata differs", item.get("why").asText());
    }

    @Test
    void aDryRunWritesNoMd5Cache(@TempDir Path dir) throws Exception {
        Archive a = archive(dir);
        String bucket = newBucket();
        run(a, bucket, true);
        Path cache = a.root().resolve(".kit/upload-md5-cache.json");
        Files.delete(cache);
        // Same sizes in the bucket: the plan hashes every local file to compare, and must not keep what it computed.
        ObjectNode dry = run(a, bucket, false);
        assertEquals(5, dry.at("/plan/unchanged/files").asInt(), dry.toString());
        assertFalse(Files.exists(cache), "a dry run writes nothing, not even the MD5 cache in .kit/");
        // A cache that is there is used and left as it was.
        run(a, bucket, true);
        byte[] before = Files.readAllBytes(cache);
        Files.write(a.crops().resolve("inbox_0123456789ab.jpg"), bytes(7000)); // same size, new content: hashed again
        ObjectNode dry2 = run(a, bucket, false);
        assertEquals(List.of("crops/inbox_0123456789ab.jpg"), keys(dry2, "changed"));
        assertArrayEquals(before, Files.readAllBytes(cache), "the dry run left the cache byte for byte");
    }

    @Test
    void aFailedPartIsRetriedAndTheUploadSucceeds(@TempDir Path dir) throws Exception {
        Archive a = archive(dir);
        String bucket = newBucket();
        byte[] scan = bytes(9 * 1024 * 1024);
        Files.write(a.photo("Image 001_compress.jpg"), scan);
        try (FailingS3Proxy proxy = new FailingS3Proxy(store.port())) {
            proxy.failFirstUploadParts(1);
            ObjectNode done = run(a, config(a.root(), proxy.endpoint(), bucket, store.secretKey()), true, new ByteArrayOutputStream());
            assertEquals(0, done.at("/result/failed").size(), done.toString());
            assertEquals(1, proxy.uploadPartsFailed());
            assertEquals(3, proxy.uploadPartsSeen(), "2 parts, one of them sent twice");
            assertEquals(3 + 4, proxy.puts(), "3 part requests and 4 small files");
            assertEquals(proxy.puts(), proxy.putsWithContentMd5(), "every PUT carries Content-MD5, so the store checks the bytes");
            // issue 13: over plain http the SDK used to hash every body again (SHA-256) into the signature
            assertEquals(proxy.puts(), proxy.putsWithUnsignedPayload(), "no PUT body is hashed into the signature: Content-MD5 checks it");
        }
        assertArrayEquals(scan, Files.readAllBytes(stored(bucket, "raw_photos/Image 001_compress.jpg")));
    }

    @Test
    void aFileWhosePartsKeepFailingIsReportedAndTheOthersAreSent(@TempDir Path dir) throws Exception {
        Archive a = archive(dir);
        String bucket = newBucket();
        Files.write(a.photo("Image 001_compress.jpg"), bytes(9 * 1024 * 1024));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (FailingS3Proxy proxy = new FailingS3Proxy(store.port())) {
            proxy.alwaysFailUploadPartsOf("Image 001_compress.jpg");
            ObjectNode done = run(a, config(a.root(), proxy.endpoint(), bucket, store.secretKey()), true, out);
            assertEquals(1, done.at("/result/failed").size(), done.toString());
            JsonNode failed = done.at("/result/failed").get(0);
            assertEquals("raw_photos/Image 001_compress.jpg", failed.get("key").asText());
            assertTrue(failed.get("error").asText().contains("500") && failed.get("error").asText().contains("InternalError"), failed.toString());
            assertTrue(proxy.uploadPartsFailed() >= 5, "retried before giving up: " + proxy.uploadPartsFailed());
        }
        assertEquals(4, keys(run(a, bucket, false), "unchanged").size(), "the 4 other files were sent");
        assertFalse(Files.exists(stored(bucket, "raw_photos/Image 001_compress.jpg")), "no half object left behind");
        String text = out.toString(StandardCharsets.UTF_8);
        assertTrue(text.contains("1 file(s) could not be uploaded") && text.contains("run again"), text);
    }

    /** Small files go up through SignedPut (the SDK's signer and HTTP client without the S3 client's pipeline): a 500 is retried. */
    @Test
    void aFailedSmallFilePutIsRetriedAndTheUploadSucceeds(@TempDir Path dir) throws Exception {
        Archive a = archive(dir);
        String bucket = newBucket();
        try (FailingS3Proxy proxy = new FailingS3Proxy(store.port())) {
            proxy.failFirstObjectPuts(2);
            ObjectNode done = run(a, config(a.root(), proxy.endpoint(), bucket, store.secretKey()), true, new ByteArrayOutputStream());
            assertEquals(0, done.at("/result/failed").size(), done.toString());
            assertEquals(5, done.at("/result/files_sent").asInt());
            assertEquals(2, proxy.objectPutsFailed());
            assertEquals(5 + 2, proxy.puts(), "5 files, two of them sent twice");
            assertEquals(proxy.puts(), proxy.putsWithContentMd5(), "every PUT carries Content-MD5");
            assertEquals(proxy.puts(), proxy.putsWithUnsignedPayload(), "no PUT body is hashed into the signature");
        }
        assertArrayEquals(Files.readAllBytes(a.photo("Béatrice à Rhodes.png")), Files.readAllBytes(stored(bucket, "raw_photos/Béatrice à Rhodes.png")));
        assertArrayEquals(Files.readAllBytes(a.crops().resolve("Image 001_compress:face0.jpg")),
                Files.readAllBytes(stored(bucket, "crops/Image 001_compress:face0.jpg")));
    }

    @Test
    void aSmallFileThatKeepsFailingIsReportedWithTheStoresAnswerAndTheOthersAreSent(@TempDir Path dir) throws Exception {
        Archive a = archive(dir);
        String bucket = newBucket();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (FailingS3Proxy proxy = new FailingS3Proxy(store.port())) {
            proxy.alwaysFailObjectPutsOf("Béatrice");
            ObjectNode done = run(a, config(a.root(), proxy.endpoint(), bucket, store.secretKey()), true, out);
            assertEquals(1, done.at("/result/failed").size(), done.toString());
            JsonNode failed = done.at("/result/failed").get(0);
            assertEquals("raw_photos/Béatrice à Rhodes.png", failed.get("key").asText());
            String error = failed.get("error").asText();
            assertTrue(error.contains("500") && error.contains("InternalError") && error.contains("bucket '" + bucket + "'"), error);
            assertEquals(5, proxy.objectPutsFailed(), "five tries in all, as the S3 client makes");
        }
        assertEquals(4, keys(run(a, bucket, false), "unchanged").size(), "the 4 other files were sent");
        assertFalse(Files.exists(stored(bucket, "raw_photos/Béatrice à Rhodes.png")));
    }

    /**
     * The request SignedPut sends is the one the S3 client sends for the same PutObject: the same
     * address (the bucket's address from the endpoint rules, the key encoded the same way) and the
     * same credential scope, for R2's account endpoint, a custom https domain and a local store.
     */
    @Test
    void aSignedPutGoesWhereTheS3ClientsPutObjectGoes() {
        String[][] cases = {
            {"https://0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com", "false"},
            {"https://r2.example.org", "true"},
            {store.endpoint(), "true"}};
        List<String> keys = List.of("raw_photos/Image 001_compress.jpg", "crops/Image 001_compress:face0.jpg",
                "raw_photos/B\u00e9atrice \u00e0 Rhodes (1) +&=~.png", "crops/inbox_0123456789ab.jpg");
        for (String[] c : cases) {
            StoreSettings settings = new StoreSettings(URI.create(c[0]), "photos", "AKIDEXAMPLE", "secret", Boolean.parseBoolean(c[1]));
            List<software.amazon.awssdk.http.SdkHttpRequest> seen = new ArrayList<>();
            software.amazon.awssdk.core.interceptor.ExecutionInterceptor capture = new software.amazon.awssdk.core.interceptor.ExecutionInterceptor() {
                @Override
                public void beforeTransmission(software.amazon.awssdk.core.interceptor.Context.BeforeTransmission context,
                        software.amazon.awssdk.core.interceptor.ExecutionAttributes attributes) {
                    seen.add(context.httpRequest());
                    throw new IllegalStateException("captured");
                }
            };
            try (ObjectStore objects = ObjectStore.open(settings, 1);
                 S3Client sdk = S3Client.builder().endpointOverride(settings.endpoint()).region(Region.of("auto")).forcePathStyle(settings.pathStyle())
                         .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create("AKIDEXAMPLE", "secret")))
                         .requestChecksumCalculation(software.amazon.awssdk.core.checksums.RequestChecksumCalculation.WHEN_REQUIRED)
                         .overrideConfiguration(o -> o.addExecutionInterceptor(capture).retryStrategy(r -> r.maxAttempts(1))).build()) {
                SignedPut puts = objects.signedPut();
                assertNotNull(puts, c[0]);
                for (String key : keys) {
                    seen.clear();
                    assertThrows(RuntimeException.class, () -> sdk.putObject(b -> b.bucket("photos").key(key).contentType("image/jpeg")
                            .contentMD5("1B2M2Y8AsgTpgAmY7PhCfg=="), software.amazon.awssdk.core.sync.RequestBody.fromBytes(new byte[0])));
                    var theirs = seen.get(0);
                    var ours = puts.sign(puts.request(key, "image/jpeg", 0, "1B2M2Y8AsgTpgAmY7PhCfg=="), () -> new java.io.ByteArrayInputStream(new byte[0]));
                    assertEquals(theirs.getUri(), ours.getUri(), c[0] + " " + key);
                    assertEquals(scope(theirs), scope(ours), c[0] + " " + key);
                    assertEquals("UNSIGNED-PAYLOAD", ours.firstMatchingHeader("x-amz-content-sha256").orElse(null), c[0]);
                    assertEquals("1B2M2Y8AsgTpgAmY7PhCfg==", ours.firstMatchingHeader("Content-MD5").orElse(null));
                }
            }
        }
    }

    /** The credential scope of a signed request's Authorization header ("AKID/date/region/service/aws4_request"). */
    static String scope(software.amazon.awssdk.http.SdkHttpRequest r) {
        String auth = r.firstMatchingHeader("Authorization").orElseThrow();
        return auth.replaceAll(".*Credential=([^,]+),.*", "$1");
    }

    /**
     * The client remembers S3's endpoint-rules answer per bucket instead of evaluating the rules
     * for every request: for R2's account endpoint (bucket in the host name), a custom https
     * domain and a local store (bucket in the path) it must be the rules' own answer, whatever the key.
     */
    @Test
    void theRememberedEndpointIsTheRulesOwnAnswerForEveryKey() {
        String[][] cases = {
            {"https://0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com", "false", "https://photos.0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com"},
            {"https://r2.example.org", "true", "https://r2.example.org/photos"},
            {store.endpoint(), "true", store.endpoint() + "/photos"}};
        for (String[] c : cases) {
            ObjectStore.SameEndpoint remembered = new ObjectStore.SameEndpoint();
            for (String key : List.of("raw_photos/a.jpg", "crops/inbox_0001.jpg", "raw_photos/B\u00e9atrice \u00e0 Rhodes.png")) {
                S3EndpointParams p = S3EndpointParams.builder().region(Region.of("auto")).bucket("photos").endpoint(c[0])
                        .forcePathStyle(Boolean.parseBoolean(c[1])).key(key).build();
                Endpoint rules = S3EndpointProvider.defaultProvider().resolveEndpoint(p).join();
                Endpoint got = remembered.resolveEndpoint(p).join();
                assertEquals(c[2], got.url().toString(), c[0]);
                assertEquals(rules.url(), got.url(), c[0] + " " + key);
                assertEquals(authSchemes(rules), authSchemes(got), c[0] + " " + key);
                assertEquals("[sigv4 s3 auto]", authSchemes(got), c[0]);
            }
        }
    }

    static String authSchemes(Endpoint e) {
        List<String> out = new ArrayList<>();
        for (var s : e.attribute(AwsEndpointAttribute.AUTH_SCHEMES)) {
            out.add(s instanceof SigV4AuthScheme v4 ? s.name() + " " + v4.signingName() + " " + v4.signingRegion() : s.name());
        }
        return out.toString().replace(", ", "; ");
    }

    @Test
    void aBucketThatDoesNotExistGetsAClearMessage(@TempDir Path dir) throws Exception {
        Archive a = archive(dir);
        KitException e = assertThrows(KitException.class, () -> run(a, "no-such-bucket", false));
        assertTrue(e.getMessage().contains("bucket 'no-such-bucket'") && e.getMessage().contains("does not exist"), e.getMessage());
        assertTrue(e.fix().contains("R2_BUCKET_NAME"), e.fix());
    }

    @Test
    void wrongCredentialsGetAClearMessage(@TempDir Path dir) throws Exception {
        Archive a = archive(dir);
        String bucket = newBucket();
        KitException e = assertThrows(KitException.class,
                () -> run(a, config(a.root(), store.endpoint(), bucket, "wrong-secret"), false, new ByteArrayOutputStream()));
        assertTrue(e.getMessage().contains("refused the credentials"), e.getMessage());
        assertTrue(e.fix().contains("R2_ACCESS_KEY_ID") && e.fix().contains("R2_SECRET_ACCESS_KEY"), e.fix());
    }

    @Test
    void missingVariablesAreListedInOneMessage(@TempDir Path dir) throws Exception {
        Archive a = archive(dir);
        KitConfig onlyBucket = KitConfig.load(a.root(), Map.of(KitConfig.R2_BUCKET_NAME, "photos"));
        KitException e = assertThrows(KitException.class, () -> run(a, onlyBucket, true, new ByteArrayOutputStream()));
        assertTrue(e.getMessage().contains("R2_ACCOUNT_ID, R2_ACCESS_KEY_ID, R2_SECRET_ACCESS_KEY"), e.getMessage());
    }

    @Test
    void withoutR2SettingsTheDryRunPlansFromTheArchiveAndSaysTheBucketWasNotConsulted(@TempDir Path dir) throws Exception {
        Archive a = archive(dir);
        KitConfig none = KitConfig.load(a.root(), Map.of(KitConfig.R2_BUCKET_NAME, "photos"));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ObjectNode dry = run(a, none, false, out);
        String text = out.toString(StandardCharsets.UTF_8);
        assertFalse(dry.at("/plan/bucket_consulted").asBoolean(), dry.toString());
        assertTrue(text.contains("The bucket was not consulted: the R2 settings are not set (R2_ACCOUNT_ID, R2_ACCESS_KEY_ID, R2_SECRET_ACCESS_KEY)"), text);
        assertEquals(5, dry.at("/plan/not_checked/files").asInt(), "every registered file with a local copy");
        assertEquals(300_000 + 40_000 + 8000 + 9000 + 7000, dry.at("/plan/not_checked/bytes").asLong());
        assertEquals(2, dry.at("/plan/missing").size());
        assertTrue(dry.at("/result").isNull(), "a dry run applies nothing");
    }

    @Test
    void missingVariablesFromTheShellExitOneWithOneMessage(@TempDir Path dir) throws Exception {
        // ./jbang points KIT_ROOT at the project: a developer's own .env would fill the variables in.
        org.junit.jupiter.api.Assumptions.assumeFalse(Files.exists(KitProcess.root().resolve(".env")),
                "the project has a .env of its own; the in-process test above covers this case");
        Archive a = archive(dir);
        Map<String, String> env = new HashMap<>();
        for (String v : List.of(KitConfig.R2_ACCOUNT_ID, KitConfig.R2_ACCESS_KEY_ID, KitConfig.R2_SECRET_ACCESS_KEY, KitConfig.R2_BUCKET_NAME, KitConfig.R2_ENDPOINT_URL)) {
            env.put(v, "");
        }
        KitProcess.Result r = KitProcess.run(env, null, "steps/upload_to_r2.java", "--data-dir", a.data().toString(), "--execute");
        assertEquals(1, r.exitCode(), r.all());
        assertTrue(r.stderr().contains("ERROR: Uploading to R2 needs R2_ACCOUNT_ID, R2_ACCESS_KEY_ID, R2_SECRET_ACCESS_KEY, R2_BUCKET_NAME"), r.stderr());
        assertFalse(r.stderr().contains("Exception"), r.stderr());
    }

    @Test
    void cliExecuteWithJsonPrintsOneSummary(@TempDir Path dir) throws Exception {
        Archive a = archive(dir);
        String bucket = newBucket();
        Map<String, String> env = new HashMap<>();
        env.put(KitConfig.R2_ENDPOINT_URL, store.endpoint());
        env.put(KitConfig.R2_ACCESS_KEY_ID, store.accessKey());
        env.put(KitConfig.R2_SECRET_ACCESS_KEY, store.secretKey());
        env.put(KitConfig.R2_BUCKET_NAME, bucket);
        String[] args = {"--data-dir", a.data().toString(), "--photos-dir", a.photos().toString(), "--crops-dir", a.crops().toString(),
                "--photos-only", "--execute", "--json"};
        KitProcess.Result r = KitProcess.run(env, null, "steps/upload_to_r2.java", args);
        assertEquals(1, r.exitCode(), "the registered lost.jpg is neither here nor in the bucket: " + r.all());
        JsonNode summary = JsonFiles.parse(r.stdout(), "stdout");
        assertEquals(1, summary.get("failures").size(), summary.toString());
        assertTrue(summary.get("failures").get(0).asText().contains("lost.jpg"), summary.toString());
        assertEquals(List.of("raw_photos/Image 001_compress.jpg", "raw_photos/Béatrice à Rhodes.png"), keys(summary, "new"), "--photos-only: no crops");
        assertEquals(2, summary.at("/result/files_sent").asInt());
        assertTrue(r.stderr().contains("Step 5"), "human text goes to stderr with --json");
        assertFalse(r.stderr().contains("SLF4J"), "no logging noise: " + r.stderr());
    }

    // ---- the one meaning of --dry-run, the job ledger, --help --------------------------------

    static Map<String, String> env(String bucket) {
        Map<String, String> env = new HashMap<>();
        env.put(KitConfig.R2_ENDPOINT_URL, store.endpoint());
        env.put(KitConfig.R2_ACCESS_KEY_ID, store.accessKey());
        env.put(KitConfig.R2_SECRET_ACCESS_KEY, store.secretKey());
        env.put(KitConfig.R2_BUCKET_NAME, bucket);
        return env;
    }

    /** Every file under {@code dir} (recursively) with the MD5 of its bytes. */
    static Map<String, String> snapshot(Path dir) throws Exception {
        Map<String, String> out = new java.util.TreeMap<>();
        if (!Files.exists(dir)) return out;
        try (var s = Files.walk(dir)) {
            for (Path p : s.filter(Files::isRegularFile).toList()) out.put(dir.relativize(p).toString(), Checksums.md5Hex(p));
        }
        return out;
    }

    /** The bucket as the S3 API lists it: every key with its ETag and size. */
    static Map<String, String> listing(String bucket) {
        Map<String, String> out = new java.util.TreeMap<>();
        try (S3Client s3 = s3()) {
            for (var page : s3.listObjectsV2Paginator(b -> b.bucket(bucket))) {
                for (var o : page.contents()) out.put(o.key(), o.eTag() + " " + o.size());
            }
        }
        return out;
    }

    /** Two ingested jobs in the ledger: one whose objects are all here, one whose photo is lost. */
    static void ledgerWithJobs(Archive a) throws Exception {
        JobLedger ledger = JobLedger.open(a.data().resolve("runs"), KitContext.Mode.APPLY);
        for (String[] j : new String[][] {{"job00001", "a000000000000001"}, {"job00002", "a000000000000002"}, {"job00003", "a000000000000003"}}) {
            ledger.recordDownload(j[0], Map.of(j[0] + "/photo.jpg", 10L), List.of());
            ledger.mark(List.of(j[0]), JobLedger.Milestone.INGESTED);
            ledger.setPhotoIds(j[0], List.of(j[1]));
        }
    }

    @Test
    void uploadWithoutExecuteAndWithDryRunChangeNothingAnywhere(@TempDir Path dir) throws Exception {
        Archive a = archive(dir);
        ledgerWithJobs(a);
        String bucket = newBucket();
        Map<String, String> env = env(bucket);
        String[] folders = {"--data-dir", a.data().toString(), "--photos-dir", a.photos().toString(), "--crops-dir", a.crops().toString()};
        // Something in the bucket already (the photos), and a photo changed since: the plan has new, changed and unchanged.
        String[] photosOnly = java.util.stream.Stream.concat(java.util.Arrays.stream(folders), java.util.stream.Stream.of("--photos-only", "--execute")).toArray(String[]::new);
        KitProcess.Result sent = KitProcess.run(env, null, "steps/upload_to_r2.java", photosOnly);
        assertEquals(1, sent.exitCode(), "lost.jpg is registered but nowhere: " + sent.all());
        Files.write(a.photo("Béatrice à Rhodes.png"), bytes(40_000));
        byte[] ledger = Files.readAllBytes(a.data().resolve("runs/jobs.json"));
        Map<String, String> bucketBefore = snapshot(stored(bucket, "")), listedBefore = listing(bucket), dataBefore = snapshot(a.data());
        assertEquals(2, listedBefore.size(), listedBefore.toString());

        for (String[] extra : new String[][] {{}, {"--dry-run"}}) {
            String[] args = java.util.stream.Stream.concat(java.util.Arrays.stream(folders), java.util.Arrays.stream(extra)).toArray(String[]::new);
            KitProcess.Result r = KitProcess.run(env, null, "steps/upload_to_r2.java", args);
            assertEquals(0, r.exitCode(), r.all());
            assertTrue(r.stdout().contains("changed") && r.stdout().contains("Dry run: nothing was changed"), r.stdout());
            assertTrue(r.stdout().contains("job00003: 2 object(s)") && r.stdout().contains("held back"), r.stdout());
            assertEquals(bucketBefore, snapshot(stored(bucket, "")), "the bucket's objects, byte for byte: " + String.join(" ", extra));
            assertEquals(listedBefore, listing(bucket), "the bucket's listing (keys, ETags, sizes)");
            assertEquals(dataBefore, snapshot(a.data()), "data/, byte for byte");
            assertArrayEquals(ledger, Files.readAllBytes(a.data().resolve("runs/jobs.json")), "the ledger");
        }
    }

    @Test
    void aJobIsMarkedUploadedOnlyWhenEveryOneOfItsObjectsIsVerified(@TempDir Path dir) throws Exception {
        Archive a = archive(dir);
        ledgerWithJobs(a);
        String bucket = newBucket();
        Files.write(a.photo("Image 001_compress.jpg"), bytes(9 * 1024 * 1024));
        ObjectNode first;
        try (FailingS3Proxy proxy = new FailingS3Proxy(store.port())) {
            proxy.alwaysFailUploadPartsOf("Image 001_compress.jpg");
            first = run(a, config(a.root(), proxy.endpoint(), bucket, store.secretKey()), true, new ByteArrayOutputStream());
        }
        JobLedger ledger = JobLedger.open(a.data().resolve("runs"), KitContext.Mode.DRY_RUN);
        // job 1: its photo failed to go up; job 2: photo and crop verified; job 3: its photo is lost
        assertFalse(ledger.reached("job00001", JobLedger.Milestone.UPLOADED), "a failed file holds back its job");
        assertTrue(ledger.reached("job00002", JobLedger.Milestone.UPLOADED));
        assertFalse(ledger.reached("job00003", JobLedger.Milestone.UPLOADED), "a lost photo holds back its job");
        assertEquals(List.of("job00002"), JsonFiles.MAPPER.convertValue(first.at("/result/jobs_uploaded"), List.class));
        String failures = first.get("failures").toString();
        assertTrue(failures.contains("raw_photos/Image 001_compress.jpg") && failures.contains("upload job job00001 is not marked uploaded"), failures);
        assertTrue(failures.contains("upload job job00003 is not marked uploaded"), failures);

        // Once the store works, the failed photo goes up and its job is marked; the lost one stays held.
        ObjectNode second = run(a, bucket, true);
        assertEquals(1, second.at("/result/files_sent").asInt(), second.toString());
        ledger = JobLedger.open(a.data().resolve("runs"), KitContext.Mode.DRY_RUN);
        assertTrue(ledger.reached("job00001", JobLedger.Milestone.UPLOADED));
        assertFalse(ledger.reached("job00003", JobLedger.Milestone.UPLOADED));
        // The lost photo put in the bucket by someone else counts: the bucket holds every object of job 3 then.
        try (S3Client s3 = s3()) {
            s3.putObject(b -> b.bucket(bucket).key("raw_photos/lost.jpg"), software.amazon.awssdk.core.sync.RequestBody.fromBytes(bytes(10)));
            s3.putObject(b -> b.bucket(bucket).key("crops/inbox_aaaaaaaaaaaa.jpg"), software.amazon.awssdk.core.sync.RequestBody.fromBytes(bytes(10)));
        }
        ObjectNode third = run(a, bucket, true);
        assertEquals(0, third.get("failures").size(), third.toString());
        assertTrue(JobLedger.open(a.data().resolve("runs"), KitContext.Mode.DRY_RUN).reached("job00003", JobLedger.Milestone.UPLOADED));
    }

    @Test
    void optionsAreCheckedAndHelpListsEveryOption() throws Exception {
        KitProcess.Result help = KitProcess.run("steps/upload_to_r2.java", "--help");
        assertEquals(0, help.exitCode(), help.all());
        for (String o : List.of("--execute", "--dry-run", "--photos-only", "--crops-only", "--parallel", "--data-dir", "--photos-dir",
                "--crops-dir", "--json", "--help")) {
            assertTrue(help.stdout().contains(o), o + " in --help: " + help.stdout());
        }
        for (String[] bad : new String[][] {{"--execute", "--dry-run"}, {"--photos-only", "--crops-only"}, {"--parallel", "0"}, {"--parallel", "65"}}) {
            KitProcess.Result r = KitProcess.run("steps/upload_to_r2.java", bad);
            assertEquals(2, r.exitCode(), String.join(" ", bad) + ": " + r.all());
        }
    }
}
