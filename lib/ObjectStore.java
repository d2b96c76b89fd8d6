//DEPS software.amazon.awssdk:s3:2.54.2
//DEPS software.amazon.awssdk:apache5-client:2.54.2
//DEPS org.slf4j:slf4j-api:2.0.18
//DEPS org.slf4j:slf4j-nop:2.0.18
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.awscore.retry.AwsRetryStrategy;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.http.apache5.Apache5HttpClient;
import software.amazon.awssdk.http.auth.aws.signer.AwsV4FamilyHttpSigner;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3Configuration;
import software.amazon.awssdk.services.s3.auth.scheme.S3AuthSchemeProvider;

/**
 * A connection to the archive's object storage (Cloudflare R2, or any S3-compatible store): the
 * S3 client set up the way R2 and S3Proxy both accept, with retries, and the two things done
 * over it — {@link #plan} (what differs, {@link UploadPlan}) and {@link #execute} (send exactly
 * that, {@link ObjectTransfer}).
 */
public final class ObjectStore implements AutoCloseable {
    public static final int DEFAULT_PARALLEL = 4;

    private final StoreSettings settings;
    private final S3Client s3;
    private final int parallel;
    private final Md5Cache md5s;

    private ObjectStore(StoreSettings settings, S3Client s3, int parallel, Md5Cache md5s) {
        this.settings = settings;
        this.s3 = s3;
        this.parallel = parallel;
        this.md5s = md5s;
    }

    /** A client for {@code settings} doing at most {@code parallel} transfers at once, without an MD5 cache. */
    public static ObjectStore open(StoreSettings settings, int parallel) {
        return open(settings, parallel, null);
    }

    /**
     * A client for {@code settings} doing at most {@code parallel} transfers at once. {@code md5CacheFile}
     * (may be null) remembers local files' MD5s ({@link Md5Cache}), so a re-run does not read every photo again.
     */
    public static ObjectStore open(StoreSettings settings, int parallel, Path md5CacheFile) {
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

    public StoreSettings settings() {
        return settings;
    }

    /** Compares {@code wanted} with the bucket: new / changed / unchanged for each object. Reads only. */
    public UploadPlan plan(List<UploadPlan.Wanted> wanted) {
        return plan(wanted, List.of());
    }

    /** The same, also saying which of {@code alsoAsk} (keys with no local file) the bucket holds. */
    public UploadPlan plan(List<UploadPlan.Wanted> wanted, List<String> alsoAsk) {
        return UploadPlan.make(s3, settings, wanted, alsoAsk, md5s, parallel);
    }

    /** Sends exactly the new and changed items of {@code plan}, verified; {@code progress} may be null. */
    public ObjectTransfer.Outcome execute(UploadPlan plan, ProgressBar progress) {
        return new ObjectTransfer(s3, settings, md5s, parallel).send(plan, progress);
    }

    /**
     * Fetches the object {@code key} into {@code target} (written atomically); false when the bucket
     * holds no such object. Any other failure is a KitException naming the bucket and what to check.
     */
    public boolean download(String key, Path target) throws java.io.IOException {
        try (software.amazon.awssdk.core.ResponseInputStream<software.amazon.awssdk.services.s3.model.GetObjectResponse> in =
                     s3.getObject(b -> b.bucket(settings.bucket()).key(key))) {
            AtomicFiles.write(target, in);
            return true;
        } catch (software.amazon.awssdk.services.s3.model.NoSuchKeyException e) {
            return false;
        } catch (software.amazon.awssdk.services.s3.model.S3Exception e) {
            if (e.statusCode() == 404) return false;
            throw StoreErrors.explain(e, "downloading " + key, settings);
        } catch (software.amazon.awssdk.core.exception.SdkException e) {
            throw StoreErrors.explain(e, "downloading " + key, settings);
        }
    }

    @Override
    public void close() {
        s3.close();
    }
}
