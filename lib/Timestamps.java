import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;

/** The kit's timestamps, each in the one style its readers expect. */
public final class Timestamps {
    private Timestamps() {}

    /** The archive's own style (identities.json, photo_index.json): microseconds and an offset, 2026-02-01T21:29:26.548938+00:00. */
    public static final DateTimeFormatter ARCHIVE = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSSSSxxx");
    /** Backup labels and run ids: 20260210-140311 (local time, as the earlier pipeline named backups). */
    public static final DateTimeFormatter LABEL = DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss");

    /** Now, for a field of identities.json or photo_index.json. */
    public static String archive() {
        return OffsetDateTime.now(ZoneOffset.UTC).format(ARCHIVE);
    }

    /** Now, for the kit's own records (journal, ledger, decisions): seconds and the local offset. */
    public static String ledger() {
        return OffsetDateTime.now().withNano(0).toString();
    }

    /** Now, as a backup label or run id. */
    public static String label() {
        return LocalDateTime.now().format(LABEL);
    }
}
