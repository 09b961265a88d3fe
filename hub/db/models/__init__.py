"""Every table of the hub; importing this package registers them on ``Base.metadata``."""

from hub.db.models.chat import ChatMessage, PendingNotification, PushSubscription, Room, RoomMember
from hub.db.models.clients import CareRelationship, Client, ClientContact, PortalLink, PortalUser
from hub.db.models.followups import FollowUpRule, ScheduledFollowUp
from hub.db.models.messaging import (
    Attachment,
    CannedReply,
    ChannelAccount,
    Conversation,
    EmailReceipt,
    Mailbox,
    Message,
    QuarantinedItem,
    ReadMarker,
    WebhookDelivery,
)
from hub.db.models.org import ApiToken, Organisation, Staff, Team, TeamMembership
from hub.db.models.security import AuditRecord, EmergencyAccess, OneTimeLink, UserSession
from hub.db.models.shifts import Leave, Shift, ShiftCall, ShiftOffer

__all__ = [
    "ApiToken", "Attachment", "AuditRecord", "CannedReply", "CareRelationship",
    "ChannelAccount", "ChatMessage", "Client", "ClientContact", "Conversation",
    "EmailReceipt", "EmergencyAccess", "FollowUpRule", "Leave", "Mailbox", "Message", "OneTimeLink",
    "Organisation", "PendingNotification", "PortalLink", "PortalUser", "PushSubscription",
    "QuarantinedItem", "ReadMarker", "Room", "RoomMember", "ScheduledFollowUp", "Shift",
    "ShiftCall", "ShiftOffer", "Staff", "Team", "TeamMembership", "UserSession",
    "WebhookDelivery",
]
