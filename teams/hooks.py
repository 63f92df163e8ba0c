"""What apps above `teams` may plug in (registered in their `AppConfig.ready`).

- `namespace_readers(user)`: a queryset of namespace ids the user reads beyond their teams'
  (reviewers holding a promotion right see what they review).
- `namespace_changed(namespace, before, after)`: inside the transaction that changed a
  namespace's team, description or visibility (cached answers carry the visibility).
- `access_gained(user_ids)`: inside the transaction after users gained rights (joined a team,
  a higher role, reactivated): pending decisions that count them may now be complete.
- `promotion_right(user, namespace, environment) -> bool`: whether the user holds the
  promotion right for that environment of the namespace (approvals knows). Prompts asks it
  before a lifecycle change of a prompt that runs in a protected environment; with nothing
  registered the answer is no (a missing check refuses, never allows).
"""

from portal.hooks import Hook

namespace_readers = Hook("namespace_readers")
namespace_changed = Hook("namespace_changed")
access_gained = Hook("access_gained")
promotion_right = Hook("promotion_right")
