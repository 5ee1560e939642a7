"""The package's signals. None of them ever carries a plaintext token.

- ``token_expired(sender=AuthToken, instance, user)``: an expired token was seen and deleted.
- ``token_renewed(sender=AuthToken, instance, user, expiry)``: a token's expiry was extended.
- ``token_revoked(sender=AuthToken, user, session_ids)``: tokens were revoked (logout,
  logout all, session revocation).
- ``user_registered(sender=User model, user, request)``.
- ``email_confirmed(sender=User model, user, email)``.
- ``password_changed(sender=User model, user, request, reset)``: ``changePassword``
  (``reset=False``) or ``resetPassword`` (``reset=True``) set a new password.
"""

from django.dispatch import Signal

token_expired = Signal()
token_renewed = Signal()
token_revoked = Signal()
user_registered = Signal()
email_confirmed = Signal()
password_changed = Signal()
