import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.NoSuchFileException;
import java.util.List;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.s3.model.NoSuchBucketException;
import software.amazon.awssdk.services.s3.model.S3Exception;

/**
 * The store's failures as the maintainer reads them: which bucket, what happened and what to
 * check (bucket name, credentials, network), never an SDK stack trace and never the secret.
 */
public final class StoreErrors {
    private StoreErrors() {}

    /** A user-facing reason for one failed file. */
    public static String reason(Throwable t, StoreSettings settings) {
        if (t instanceof KitException k) return k.getMessage();
        if (t instanceof SdkException s) return explain(s, "uploading", settings).getMessage();
        if (t instanceof NoSuchFileException n) return "the local file disappeared: " + n.getFile();
        if (t instanceof IOException || t instanceof UncheckedIOException) return "cannot read the local file: " + t.getMessage();
        return t.toString();
    }

    /** Turns an SDK failure into a message that names the bucket and says what to check. */
    public static KitException explain(SdkException e, String doing, StoreSettings settings) {
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
}
