//DEPS software.amazon.awssdk:s3:2.54.2
//DEPS software.amazon.awssdk:apache5-client:2.54.2
//DEPS org.slf4j:slf4j-api:2.0.18
//DEPS org.slf4j:slf4j-nop:2.0.18
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.awscore.retry.AwsRetryStrategy;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.apache5.Apache5HttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3Configuration;
import software.amazon.awssdk.services.s3.auth.scheme.S3AuthSchemeProvider;
import software.amazon.awssdk.http.auth.aws.signer.AwsV4FamilyHttpSigner;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Request;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Response;
import software.amazon.awssdk.services.s3.model.NoSuchBucketException;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.S3Object;
import software.amazon.awssdk.services.s3.model.UploadPartResponse;

/**
 * The archive's object storage (Cloudflare R2, or any S3-compatible store): what differs between
 * local files and the bucket (a {@link Plan}), and sending exactly that plan, verified.
 *
 * <p>"Same content" is decided without downloading anything: same size, and the same MD5. The
 * MD5 of an object comes from the bucket listing (the ETag of a single-part object is its MD5),
 * or, for a multipart object, from its "md5" user metadata (written by this class), rclone's
 * "md5chksum" metadata, or the multipart ETag recomputed locally with 8 MiB parts (what boto3,
 * the earlier Python pipeline's client, used).
 *
 * <p>Every upload is verified: each PUT and each part carries a Content-MD5 header, so the store
 * rejects damaged bytes, and the ETag it answers is compared with the local MD5.
 */
public final class ObjectStore implements AutoCloseable {
    /** Files of at least this size go up in parts of this size (as boto3 does: its ETags can then be recomputed). */
    public static final long PART_SIZE = 8L * 1024 * 1024;
    /** User metadata key holding the whole file's MD5 (hex) on multipart objects: header x-amz-meta-md5. */
    public static final String MD5_METADATA = "md5";
    public static final int DEFAULT_PARALLEL = 4;

    /** Where and as whom to connect. {@code pathStyle}: bucket in the path, for custom endpoints. */
    public record Settings(URI endpoint, String bucket, String accessKey, String secretKey, boolean pathStyle) {
        @Override
        public String toString() {
            return "bucket '" + bucket + "' at " + endpoint;
        }
    }

    /**
     * The settings from R2_* variables: R2_ENDPOINT_URL when set (any S3-compatible store, the
     * local sandbox store), else Cloudflare's endpoint for R2_ACCOUNT_ID. One message lists every
     * missing variable.
     */
    public static Settings settings(KitConfig config) {
        String custom = config.get(KitConfig.R2_ENDPOINT_URL);
        List<String> needed = custom != null
                ? List.of(KitConfig.R2_ACCESS_KEY_ID, KitConfig.R2_SECRET_ACCESS_KEY, KitConfig.R2_BUCKET_NAME)
                : KitConfig.R2_VARIABLES;
        config.require(needed, "Uploading to R2");
        URI endpoint;
        try {
            endpoint = URI.create(custom != null ? stripSlash(custom)
                    : "https://" + config.get(KitConfig.R2_ACCOUNT_ID) + ".r2.cloudflarestorage.com");
            if (endpoint.getScheme() == null || endpoint.getHost() == null) throw new IllegalArgumentException("no scheme or host");
        } catch (IllegalArgumentException e) {
            throw new KitException((custom != null ? "R2_ENDPOINT_URL" : "R2_ACCOUNT_ID") + " does not make a valid URL (" + e.getMessage() + ")",
                    custom != null ? "set R2_ENDPOINT_URL to e.g. http://127.0.0.1:9000" : "R2_ACCOUNT_ID is the 32-character id shown in the Cloudflare dashboard, R2 overview");
        }
        return new Settings(endpoint, config.get(KitConfig.R2_BUCKET_NAME), config.get(KitConfig.R2_ACCESS_KEY_ID),
                config.get(KitConfig.R2_SECRET_ACCESS_KEY), custom != null);
    }

    private static String stripSlash(String s) {
        return s.endsWith("/") ? s.substring(0, s.length() - 1) : s;
    }

    // ---------------------------------------------------------------- the plan

    /** A file the archive wants in the bucket under {@code key}. */
    public record Wanted(String key, Path file, String contentType) {}

    public enum Action { NEW, CHANGED, UNCHANGED }

    /**
     * One wanted object and what to do with it. {@code why}: how the decision was reached
     * ("not in bucket", "size differs", "etag", "md5 metadata", "multipart etag", ...).
     */
    public record Item(String key, Path file, String contentType, long size, Action action, String why) {}

    /** The plan: every wanted object with its action. Built by {@link #plan}, carried out by {@link #execute}. */
    public record Plan(Settings settings, List<Item> items) {
        public List<Item> toSend() {
            return items.stream().filter(i -> i.action != Action.UNCHANGED).toList();
        }

        public int count(Action a) {
            return (int) items.stream().filter(i -> i.action == a).count();
        }

        public long bytes(Action a) {
            return items.stream().filter(i -> i.action == a).mapToLong(Item::size).sum();
        }

        public long bytesToSend() {
            return bytes(Action.NEW) + bytes(Action.CHANGED);
        }
    }

    /** A listed object: its size and ETag (quotes removed). */
    private record Remote(long size, String etag) {}

    // ---------------------------------------------------------------- the client

    private final Settings settings;
    private final S3Client s3;
    private final int parallel;
    private final Md5Cache md5s;

    private ObjectStore(Settings settings, S3Client s3, int parallel, Md5Cache md5s) {
        this.settings = settings;
        this.s3 = s3;
        this.parallel = parallel;
        this.md5s = md5s;
    }

    /** A client for {@code settings} doing at most {@code parallel} transfers at once, without an MD5 cache. */
    public static ObjectStore open(Settings settings, int parallel) {
        return open(settings, parallel, null);
    }

    /**
     * A client for {@code settings} doing at most {@code parallel} transfers at once. {@code md5CacheFile}
     * (may be null) remembers local files' MD5s by path, size and modification time, so a re-run
     * does not read every photo again.
     */
    public static ObjectStore open(Settings settings, int parallel, Path md5CacheFile) {
        int p = Math.max(1, parallel);
        // The SDK logs through SLF4J; this class brings slf4j-nop so a step stays silent. When another
        // provider is on the class path too (tests), name one so SLF4J prints no warning about it.
        if (System.getProperty("slf4j.provider") == null) {
            System.setProperty("slf4j.internal.verbosity", "WARN");
            System.setProperty("slf4j.provider", "org.slf4j.nop.NOPServiceProvider");
        }
        S3Client s3 = S3Client.builder()
                .endpointOverride(settings.endpoint())
                .region(Region.of("auto"))
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(settings.accessKey(), settings.secretKey())))
                .forcePathStyle(settings.pathStyle())
                // Integrity comes from Content-MD5, so the body is not also hashed into the signature
                // (SHA-256 over every byte, on both sides, and aws-chunked framing on plain-http stores
                // such as the local sandbox; over https the SDK already sends UNSIGNED-PAYLOAD).
                // No "Expect: 100-continue" either: it costs a round trip per photo (the bucket listing
                // has already proved the credentials before any upload starts).
                .serviceConfiguration(S3Configuration.builder().chunkedEncodingEnabled(false).expectContinueEnabled(false).build())
                .authSchemeProvider(params -> S3AuthSchemeProvider.defaultProvider().resolveAuthScheme(params).stream()
                        .map(o -> o.toBuilder().putSignerProperty(AwsV4FamilyHttpSigner.PAYLOAD_SIGNING_ENABLED, false).build())
                        .toList())
                // Recent SDKs add CRC trailers (aws-chunked) by default, which R2 and S3Proxy do not all
                // accept; integrity comes from our own Content-MD5 instead.
                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED)
                .httpClientBuilder(Apache5HttpClient.builder()
                        .maxConnections(2 * p + 2)
                        .expectContinueEnabled(false)
                        .connectionTimeout(Duration.ofSeconds(10))
                        .socketTimeout(Duration.ofSeconds(120)))
                // Throttling (429/503), other 5xx and dropped connections are retried with
                // exponential backoff and jitter, five tries in all.
                .overrideConfiguration(o -> o.retryStrategy(AwsRetryStrategy.standardRetryStrategy().toBuilder().maxAttempts(5).build()))
                .build();
        return new ObjectStore(settings, s3, p, new Md5Cache(md5CacheFile));
    }

    public Settings settings() {
        return settings;
    }

    @Override
    public void close() {
        s3.close();
    }

    /**
     * Compares {@code wanted} with the bucket and says, for each object, new / changed / unchanged.
     * Lists each key prefix once (one request per 1000 objects); only multipart objects of the
     * same size cost a HEAD. Local MD5s are computed only where sizes match.
     */
    public Plan plan(List<Wanted> wanted) {
        Map<String, Remote> remote = new HashMap<>();
        for (String prefix : prefixes(wanted)) remote.putAll(list(prefix));
        List<Item> items = new ArrayList<>(wanted.size());
        // Hashing local files is the slow part of a re-run: spread it over the cores.
        ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, Math.min(parallel, Runtime.getRuntime().availableProcessors())));
        try {
            List<Future<Item>> futures = new ArrayList<>();
            for (Wanted w : wanted) futures.add(pool.submit(() -> decide(w, remote.get(w.key()))));
            for (Future<Item> f : futures) items.add(get(f));
        } finally {
            pool.shutdown();
        }
        md5s.save();
        return new Plan(settings, List.copyOf(items));
    }

    private Item decide(Wanted w, Remote r) throws IOException {
        long size = Files.size(w.file());
        if (r == null) return new Item(w.key(), w.file(), w.contentType(), size, Action.NEW, "not in bucket");
        if (r.size() != size) return new Item(w.key(), w.file(), w.contentType(), size, Action.CHANGED, "size differs");
        String local = md5s.md5(w.file());
        String how;
        boolean same;
        if (isMd5(r.etag())) {
            how = "etag";
            same = local.equals(r.etag());
        } else {
            // A multipart object: its ETag is not the content's MD5. Ask for the metadata instead.
            String meta = metadataMd5(w.key());
            if (meta != null) {
                how = "md5 metadata";
                same = local.equals(meta);
            } else {
                how = "multipart etag";
                same = r.etag().equals(multipartEtag(w.file(), PART_SIZE));
            }
        }
        return new Item(w.key(), w.file(), w.contentType(), size, same ? Action.UNCHANGED : Action.CHANGED, how + (same ? "" : " differs"));
    }

    /** The distinct "folder/" prefixes of the wanted keys ("raw_photos/", "crops/"). */
    private static List<String> prefixes(List<Wanted> wanted) {
        List<String> out = new ArrayList<>();
        for (Wanted w : wanted) {
            int slash = w.key().indexOf('/');
            String p = slash < 0 ? "" : w.key().substring(0, slash + 1);
            if (!out.contains(p)) out.add(p);
        }
        return out;
    }

    private Map<String, Remote> list(String prefix) {
        Map<String, Remote> out = new HashMap<>();
        try {
            ListObjectsV2Request req = ListObjectsV2Request.builder().bucket(settings.bucket()).prefix(prefix).build();
            for (ListObjectsV2Response page : s3.listObjectsV2Paginator(req)) {
                for (S3Object o : page.contents()) out.put(o.key(), new Remote(o.size(), unquote(o.eTag())));
            }
            return out;
        } catch (SdkException e) {
            throw explain(e, "listing " + prefix + "*");
        }
    }

    /** The MD5 (hex) this class or rclone stored in the object's metadata, or null. */
    private String metadataMd5(String key) {
        try {
            HeadObjectResponse head = s3.headObject(b -> b.bucket(settings.bucket()).key(key));
            Map<String, String> meta = lowerKeys(head.metadata());
            String ours = meta.get(MD5_METADATA);
            if (ours != null && isMd5(ours.toLowerCase(Locale.ROOT))) return ours.toLowerCase(Locale.ROOT);
            String rclone = meta.get("md5chksum");
            if (rclone != null) {
                try {
                    byte[] raw = Base64.getDecoder().decode(rclone);
                    if (raw.length == 16) return HexFormat.of().formatHex(raw);
                } catch (IllegalArgumentException ignored) {
                    // not base64: treat as absent
                }
            }
            return null;
        } catch (SdkException e) {
            throw explain(e, "reading the metadata of " + key);
        }
    }

    // ---------------------------------------------------------------- sending

    /** What sending a plan did. {@code failed}: key → reason, in plan order. */
    public record Outcome(int sentFiles, long sentBytes, Map<String, String> failed, double seconds) {}

    /**
     * Sends every new and changed item of {@code plan} (and nothing else), at most {@code parallel}
     * requests at a time. A file that fails (after the retries) is reported in the outcome and
     * the others go on. {@code progress} advances by bytes sent (may be null).
     */
    public Outcome execute(Plan plan, ProgressBar progress) {
        long t0 = System.nanoTime();
        List<Item> send = plan.toSend();
        // Files run on one pool and parts of big files on another, but every request takes a
        // permit first: at most `parallel` transfers are in flight, whatever mix of sizes.
        Semaphore permits = new Semaphore(parallel);
        ExecutorService files = Executors.newFixedThreadPool(parallel);
        ExecutorService parts = Executors.newFixedThreadPool(parallel);
        Map<String, String> failed = new java.util.LinkedHashMap<>();
        int sentFiles = 0;
        long sentBytes = 0;
        try {
            List<Future<Long>> futures = new ArrayList<>();
            for (Item item : send) {
                futures.add(files.submit(() -> item.size() >= PART_SIZE
                        ? putMultipart(item, permits, parts, progress)
                        : putSingle(item, permits, progress)));
            }
            for (int i = 0; i < send.size(); i++) {
                try {
                    sentBytes += futures.get(i).get();
                    sentFiles++;
                    CrashPoint.reach("upload.object");
                } catch (ExecutionException e) {
                    failed.put(send.get(i).key(), reason(e.getCause()));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    failed.put(send.get(i).key(), "interrupted");
                }
            }
        } finally {
            files.shutdownNow();
            parts.shutdownNow();
        }
        md5s.save();
        return new Outcome(sentFiles, sentBytes, failed, (System.nanoTime() - t0) / 1e9);
    }

    /** One PUT with Content-MD5; the answered ETag must be that MD5. */
    private long putSingle(Item item, Semaphore permits, ProgressBar progress) throws Exception {
        byte[] buf = BUFFER.get();
        Md5Cache.Stamp stamp = Md5Cache.stamp(item.file());
        int length = readInto(item.file(), 0, buf, -1);
        byte[] md5 = md5(buf, 0, length);
        if (stamp.size() == length) md5s.remember(item.file(), stamp, HexFormat.of().formatHex(md5));
        String etag;
        permits.acquire();
        try {
            etag = s3.putObject(b -> b.bucket(settings.bucket()).key(item.key()).contentType(item.contentType())
                            .contentLength((long) length).contentMD5(Base64.getEncoder().encodeToString(md5)),
                    body(buf, length, item.contentType())).eTag();
        } finally {
            permits.release();
        }
        checkEtag(item.key(), unquote(etag), HexFormat.of().formatHex(md5));
        if (progress != null) progress.advance(length);
        return length;
    }

    /**
     * A multipart upload in parts of {@link #PART_SIZE}, sent in parallel, each with Content-MD5
     * and its ETag checked; the whole file's MD5 goes in the "md5" metadata so the next plan can
     * tell it is unchanged. On failure the upload is aborted (the store frees the parts).
     */
    private long putMultipart(Item item, Semaphore permits, ExecutorService partPool, ProgressBar progress) throws Exception {
        long size = Files.size(item.file());
        if (size != item.size()) {
            throw new KitException(item.file() + " changed size since the plan (" + item.size() + " -> " + size + " bytes)",
                    "run the upload again: it plans afresh");
        }
        String wholeMd5 = md5s.md5(item.file());
        String uploadId = s3.createMultipartUpload(b -> b.bucket(settings.bucket()).key(item.key())
                .contentType(item.contentType()).metadata(Map.of(MD5_METADATA, wholeMd5))).uploadId();
        try {
            int count = (int) ((size + PART_SIZE - 1) / PART_SIZE);
            List<Future<CompletedPart>> futures = new ArrayList<>();
            for (int n = 1; n <= count; n++) {
                int partNumber = n;
                futures.add(partPool.submit(() -> putPart(item, uploadId, partNumber, permits, progress)));
            }
            List<CompletedPart> done = new ArrayList<>();
            for (Future<CompletedPart> f : futures) done.add(get(f));
            s3.completeMultipartUpload(b -> b.bucket(settings.bucket()).key(item.key()).uploadId(uploadId)
                    .multipartUpload(m -> m.parts(done)));
            return size;
        } catch (Exception | Error e) {
            try {
                s3.abortMultipartUpload(b -> b.bucket(settings.bucket()).key(item.key()).uploadId(uploadId));
            } catch (SdkException ignored) {
                // The store drops unfinished uploads itself after a while (R2: 7 days).
            }
            throw e;
        }
    }

    private CompletedPart putPart(Item item, String uploadId, int partNumber, Semaphore permits, ProgressBar progress) throws Exception {
        byte[] buf = BUFFER.get();
        int length = readInto(item.file(), (partNumber - 1) * PART_SIZE, buf, (int) Math.min(PART_SIZE, item.size() - (partNumber - 1) * PART_SIZE));
        byte[] md5 = md5(buf, 0, length);
        UploadPartResponse r;
        permits.acquire();
        try {
            r = s3.uploadPart(b -> b.bucket(settings.bucket()).key(item.key()).uploadId(uploadId).partNumber(partNumber)
                            .contentLength((long) length).contentMD5(Base64.getEncoder().encodeToString(md5)),
                    body(buf, length, "application/octet-stream"));
        } finally {
            permits.release();
        }
        checkEtag(item.key() + " part " + partNumber, unquote(r.eTag()), HexFormat.of().formatHex(md5));
        if (progress != null) progress.advance(length);
        return CompletedPart.builder().partNumber(partNumber).eTag(r.eTag()).build();
    }

    /**
     * Each transfer thread reads files and parts into its own buffer, reused from one request to
     * the next: no new multi-megabyte array per photo for the garbage collector. The MD5 sent is
     * the MD5 of exactly these bytes, and a retry re-sends them from the same buffer.
     */
    private static final ThreadLocal<byte[]> BUFFER = ThreadLocal.withInitial(() -> new byte[(int) PART_SIZE]);

    private static RequestBody body(byte[] buf, int length, String contentType) {
        return RequestBody.fromContentProvider(() -> new java.io.ByteArrayInputStream(buf, 0, length), length, contentType);
    }

    /** A store that answers an MD5-like ETag must answer ours; other ETag forms say nothing either way. */
    private static void checkEtag(String what, String etag, String md5) {
        if (etag != null && isMd5(etag) && !etag.equals(md5)) {
            throw new KitException(what + ": the store answered ETag " + etag + " for bytes whose MD5 is " + md5,
                    "the object may be damaged; run the upload again (it will be re-sent)");
        }
    }

    // ---------------------------------------------------------------- errors

    /** A user-facing reason for one failed file. */
    private String reason(Throwable t) {
        if (t instanceof KitException k) return k.getMessage();
        if (t instanceof SdkException s) return explain(s, "uploading").getMessage();
        if (t instanceof NoSuchFileException n) return "the local file disappeared: " + n.getFile();
        if (t instanceof IOException || t instanceof UncheckedIOException) return "cannot read the local file: " + t.getMessage();
        return t.toString();
    }

    /** Turns an SDK failure into a message that names the bucket and says what to check. */
    public KitException explain(SdkException e, String doing) {
        String where = settings.toString();
        if (e instanceof NoSuchBucketException || (e instanceof S3Exception s && "NoSuchBucket".equals(code(s)))) {
            return new KitException("the " + where + " does not exist",
                    "check R2_BUCKET_NAME (it must name an existing bucket; create it in the Cloudflare dashboard, R2 > Create bucket)", e);
        }
        if (e instanceof S3Exception s) {
            String code = code(s);
            if (s.statusCode() == 403 || s.statusCode() == 401) {
                boolean keys = List.of("InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "Unauthorized").contains(code);
                return new KitException((keys ? "the store refused the credentials" : "access denied") + " while " + doing
                        + " in the " + where + " (" + s.statusCode() + (code == null ? "" : " " + code) + ")",
                        keys ? "check R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY (an R2 API token's Access Key ID and Secret Access Key)"
                                : "the R2 API token needs Object Read & Write permission on this bucket", e);
            }
            return new KitException("the store answered " + s.statusCode() + (code == null ? "" : " " + code) + " while " + doing
                    + " in the " + where + ": " + firstLine(s.awsErrorDetails() != null ? s.awsErrorDetails().errorMessage() : s.getMessage()),
                    s.statusCode() >= 500 ? "the store had trouble (retried 5 times); run again later: only what is missing is sent" : null, e);
        }
        if (e instanceof SdkClientException) {
            return new KitException("cannot reach " + settings.endpoint() + " while " + doing + ": " + firstLine(rootMessage(e)),
                    "check your network and R2_ENDPOINT_URL / R2_ACCOUNT_ID; run again: only what is missing is sent", e);
        }
        return new KitException(doing + " failed: " + firstLine(e.getMessage()), null, e);
    }

    private static String code(S3Exception s) {
        return s.awsErrorDetails() == null ? null : s.awsErrorDetails().errorCode();
    }

    private static String rootMessage(Throwable t) {
        Throwable r = t;
        while (r.getCause() != null && r.getCause() != r) r = r.getCause();
        return r == t ? String.valueOf(t.getMessage()) : r.getClass().getSimpleName() + ": " + r.getMessage();
    }

    private static String firstLine(String s) {
        if (s == null) return "(no message)";
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    private static <T> T get(Future<T> f) throws RuntimeException {
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new KitException("interrupted");
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof RuntimeException r) throw r;
            if (c instanceof Error err) throw err;
            if (c instanceof IOException io) throw new UncheckedIOException(io);
            throw new RuntimeException(c);
        }
    }

    // ---------------------------------------------------------------- MD5 cache

    /**
     * Local files' MD5s, remembered with the size and modification time they had when hashed (as
     * rsync and rclone decide "unchanged"): a photo rewritten in any way gets a new time and is
     * hashed again. It is only a cache: a missing or unreadable file just means hashing again.
     */
    static final class Md5Cache {
        record Stamp(long size, long mtimeNanos) {}

        private record Entry(Stamp stamp, String md5) {}

        private final Path file;
        private final Map<String, Entry> entries = new java.util.concurrent.ConcurrentHashMap<>();
        private volatile boolean dirty;

        Md5Cache(Path file) {
            this.file = file;
            if (file == null || !Files.isRegularFile(file)) return;
            try {
                var doc = JsonFiles.read(file);
                doc.path("files").fields().forEachRemaining(e -> {
                    var v = e.getValue();
                    if (isMd5(v.path("md5").asText())) {
                        entries.put(e.getKey(), new Entry(new Stamp(v.path("size").asLong(-1), v.path("mtime_ns").asLong(-1)), v.path("md5").asText()));
                    }
                });
            } catch (IOException | RuntimeException e) {
                entries.clear(); // a damaged cache is ignored and rebuilt
            }
        }

        static Stamp stamp(Path f) throws IOException {
            var attrs = Files.readAttributes(f, java.nio.file.attribute.BasicFileAttributes.class);
            return new Stamp(attrs.size(), attrs.lastModifiedTime().to(java.util.concurrent.TimeUnit.NANOSECONDS));
        }

        /** The file's MD5 (hex): remembered if size and time still match, else computed and remembered. */
        String md5(Path f) throws IOException {
            Stamp before = stamp(f);
            Entry e = entries.get(key(f));
            if (e != null && e.stamp().equals(before)) return e.md5();
            String md5 = md5Hex(f);
            remember(f, before, md5);
            return md5;
        }

        void remember(Path f, Stamp stamp, String md5) {
            if (file == null) return;
            entries.put(key(f), new Entry(stamp, md5));
            dirty = true;
        }

        private static String key(Path f) {
            return f.toAbsolutePath().normalize().toString();
        }

        /** Writes the cache if it changed; a failure to write only costs hashing next time. */
        void save() {
            if (file == null || !dirty) return;
            var doc = JsonFiles.object();
            doc.put("about", "MD5s of local files by size and modification time, kept by the upload step; safe to delete");
            var files = doc.putObject("files");
            entries.keySet().removeIf(k -> !Files.exists(Path.of(k))); // photos moved or deleted since
            new java.util.TreeMap<>(entries).forEach((k, e) -> files.putObject(k)
                    .put("size", e.stamp().size()).put("mtime_ns", e.stamp().mtimeNanos()).put("md5", e.md5()));
            try {
                Files.createDirectories(file.getParent());
                JsonFiles.write(file, doc);
                dirty = false;
            } catch (IOException e) {
                // only a cache
            }
        }
    }

    // ---------------------------------------------------------------- checksums

    public static boolean isMd5(String s) {
        return s != null && s.matches("[0-9a-f]{32}");
    }

    private static String unquote(String etag) {
        if (etag == null) return null;
        String e = etag.strip();
        if (e.startsWith("W/")) e = e.substring(2);
        if (e.length() >= 2 && e.startsWith("\"") && e.endsWith("\"")) e = e.substring(1, e.length() - 1);
        return e.toLowerCase(Locale.ROOT);
    }

    private static Map<String, String> lowerKeys(Map<String, String> m) {
        Map<String, String> out = new HashMap<>();
        m.forEach((k, v) -> out.put(k.toLowerCase(Locale.ROOT), v));
        return out;
    }

    private static MessageDigest newMd5() {
        try {
            return MessageDigest.getInstance("MD5");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static byte[] md5(byte[] b, int off, int len) {
        MessageDigest d = newMd5();
        d.update(b, off, len);
        return d.digest();
    }

    /** The MD5 of a file, hex. */
    public static String md5Hex(Path file) throws IOException {
        MessageDigest d = newMd5();
        byte[] buf = new byte[1 << 16];
        try (InputStream in = Files.newInputStream(file)) {
            for (int n; (n = in.read(buf)) > 0; ) d.update(buf, 0, n);
        }
        return HexFormat.of().formatHex(d.digest());
    }

    /** The ETag S3 gives a file uploaded in parts of {@code partSize}: md5(md5(part1)..md5(partN)) + "-N". */
    public static String multipartEtag(Path file, long partSize) throws IOException {
        long size = Files.size(file);
        int count = (int) Math.max(1, (size + partSize - 1) / partSize);
        MessageDigest all = newMd5();
        MessageDigest part = newMd5();
        byte[] buf = new byte[1 << 16];
        try (InputStream in = Files.newInputStream(file)) {
            for (int p = 0; p < count; p++) {
                long left = Math.min(partSize, size - p * partSize);
                while (left > 0) {
                    int n = in.read(buf, 0, (int) Math.min(buf.length, left));
                    if (n < 0) throw new IOException(file + " became shorter while being read");
                    part.update(buf, 0, n);
                    left -= n;
                }
                all.update(part.digest());
            }
        }
        return HexFormat.of().formatHex(all.digest()) + "-" + count;
    }

    /**
     * Reads {@code length} bytes of {@code file} from {@code offset} into {@code buf} (the whole
     * file when length is -1; it must fit). Returns the number read.
     */
    private static int readInto(Path file, long offset, byte[] buf, int length) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            int want = length >= 0 ? length : (int) Math.min(size, buf.length);
            if (length < 0 && size > buf.length) throw new IOException(file + " grew to " + size + " bytes while being uploaded");
            ByteBuffer bb = ByteBuffer.wrap(buf, 0, want);
            while (bb.hasRemaining()) {
                int n = ch.read(bb, offset + bb.position());
                if (n < 0) throw new IOException(file + " became shorter while being uploaded");
            }
            return want;
        }
    }

    /** The Content-Type for a file name (photos may be JPEG, PNG, TIFF, HEIC, WebP ...). */
    public static String contentType(String fileName) {
        String n = fileName.toLowerCase(Locale.ROOT);
        int dot = n.lastIndexOf('.');
        String ext = dot < 0 ? "" : n.substring(dot + 1);
        return switch (ext) {
            case "jpg", "jpeg", "jpe", "jfif" -> "image/jpeg";
            case "png" -> "image/png";
            case "gif" -> "image/gif";
            case "webp" -> "image/webp";
            case "tif", "tiff" -> "image/tiff";
            case "heic" -> "image/heic";
            case "heif" -> "image/heif";
            case "bmp" -> "image/bmp";
            case "avif" -> "image/avif";
            default -> "application/octet-stream";
        };
    }
}
