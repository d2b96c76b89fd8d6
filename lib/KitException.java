import java.util.List;

/**
 * A failure the user can act on: a one-line message naming the file or service involved,
 * plus what to do about it. Steps throw it; {@link StepMain} prints it without a stack trace.
 */
public class KitException extends RuntimeException {
    private final String fix;

    public KitException(String message, String fix) {
        super(message);
        this.fix = fix;
    }

    public KitException(String message, String fix, Throwable cause) {
        super(message, cause);
        this.fix = fix;
    }

    public KitException(String message) {
        this(message, null);
    }

    /** What the user should do next, or null when the message says it all. */
    public String fix() {
        return fix;
    }

    /** The message followed by the fix, as printed to the user. */
    public List<String> lines() {
        return fix == null ? List.of(getMessage()) : List.of(getMessage(), "  -> " + fix);
    }
}
