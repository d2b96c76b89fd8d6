import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.util.List;

/**
 * The review's decisions, applied to identities.json ("Done" on the review page, the end of a
 * terminal review, or {@code ./jbang review --apply}): a backup first, then one atomic write.
 * Accepted faces join their person's candidates (never anchors), rejections are remembered in
 * the source's negative_ids, skipped and undecided proposals change nothing. A decision whose
 * face or identities changed since it was made is not applied and is named.
 */
public final class ReviewApplyStep implements Step<ReviewApplyStep.Plan, ReviewApplyStep.Result> {

    public record Plan(String run, String decisionsFile, int proposals, List<ReviewDecisions.Change> accept,
                       List<ReviewDecisions.Change> reject, List<ReviewDecisions.Refused> notApplied,
                       int skipped, int undecided, int alreadyApplied) implements Step.Plan {
        @Override
        public boolean nothingToDo() {
            return accept.isEmpty() && reject.isEmpty();
        }

        @Override
        public void print(Console c) {
            c.info("Review of run " + run + " (" + decisionsFile + "): " + proposals + " proposals, "
                    + accept.size() + " to accept, " + reject.size() + " to reject, " + skipped + " skipped, " + undecided + " not decided"
                    + (alreadyApplied > 0 ? ", " + alreadyApplied + " applied earlier" : ""));
            for (ReviewDecisions.Change ch : accept) {
                c.info("  accept  " + Names.printable(ch.faceId()) + ": " + Names.printable(ch.sourceName()) + " -> "
                        + Names.printable(ch.targetName()) + " (distance " + Matcher.fixed(ch.distance(), 4) + "; added to the candidates)");
            }
            for (ReviewDecisions.Change ch : reject) {
                c.info("  reject  " + Names.printable(ch.faceId()) + ": " + Names.printable(ch.sourceName()) + " is not "
                        + Names.printable(ch.targetName()) + " (never proposed again)");
            }
            for (ReviewDecisions.Refused r : notApplied) {
                c.warn("not applied: " + r.decision() + " of face " + Names.printable(r.faceId()) + " (" + Names.printable(r.sourceName())
                        + " -> " + Names.printable(r.targetName()) + "): " + r.reason());
            }
            if (nothingToDo()) c.info("No decision to apply: identities.json stays as it is.");
        }
    }

    /** {@code backup} is null when nothing was written. */
    public record Result(String backup, List<ReviewDecisions.Change> accepted, List<ReviewDecisions.Change> rejected,
                         List<ReviewDecisions.Refused> notApplied, List<String> failures) implements Step.Result {
        @Override
        public void print(Console c) {
            if (backup == null) {
                c.info("Nothing applied: identities.json is unchanged.");
                return;
            }
            c.ok("backed up identities.json first (./jbang restore --timestamp " + backup + " undoes this review)");
            c.ok("applied to identities.json: " + accepted.size() + " face(s) added to their person's candidates (not confirmed), "
                    + rejected.size() + " rejection(s) remembered");
            if (!notApplied.isEmpty()) c.warn(notApplied.size() + " decision(s) not applied (named above): their faces or identities changed");
        }
    }

    @Override
    public String name() {
        return "review";
    }

    @Override
    public Plan plan(KitContext ctx) {
        ReviewDecisions decisions = ReviewDecisions.open(ctx.layout().review(), ReviewDecisions.loadProposals(ctx.layout().data()));
        ObjectNode identities = new ArchiveFiles(ctx.layout().data()).readIdentities();
        return planOf(decisions, decisions.applyTo(identities, Timestamps.archive()));
    }

    private static Plan planOf(ReviewDecisions d, ReviewDecisions.Application a) {
        return new Plan(d.proposals().run(), d.file().toString(), d.proposals().proposals().size(), a.accepted(), a.rejected(),
                a.refused(), a.skipped(), a.undecided(), a.alreadyApplied());
    }

    @Override
    public Result apply(Plan plan, KitContext ctx) throws IOException {
        if (plan.nothingToDo()) return new Result(null, List.of(), List.of(), plan.notApplied(), List.of());
        try (DataLock lock = DataLock.acquire(ctx.layout().data(), "review")) {
            if (lock.staleLockReport() != null) ctx.console().warn(lock.staleLockReport());
            ArchiveFiles files = new ArchiveFiles(ctx.layout().data());
            ReviewDecisions decisions = ReviewDecisions.open(ctx.layout().review(), ReviewDecisions.loadProposals(ctx.layout().data()));
            ObjectNode identities = files.readIdentities();
            String now = Timestamps.archive();
            ReviewDecisions.Application a = decisions.applyTo(identities, now);
            if (!sameFaces(plan, a)) {
                throw new KitException("the archive or the decisions changed between the plan and applying it; nothing was applied",
                        "run ./jbang review --apply again");
            }
            Backups.Backup b = new Backups(ctx.layout().data()).create();
            files.writeIdentities(identities);
            decisions.markApplied(a.appliedFaceIds(), Timestamps.ledger());
            return new Result(b == null ? null : b.label(), a.accepted(), a.rejected(), a.refused(), List.of());
        }
    }

    private static boolean sameFaces(Plan plan, ReviewDecisions.Application a) {
        return plan.accept().stream().map(ReviewDecisions.Change::faceId).toList().equals(a.accepted().stream().map(ReviewDecisions.Change::faceId).toList())
                && plan.reject().stream().map(ReviewDecisions.Change::faceId).toList().equals(a.rejected().stream().map(ReviewDecisions.Change::faceId).toList());
    }
}
