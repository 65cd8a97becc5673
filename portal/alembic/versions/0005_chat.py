"""chat: conversations, messages, presence log

Revision ID: 0005_chat
Revises: 0004_mail_outbox
Create Date: 2026-11-21

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0005_chat'
down_revision: Union[str, Sequence[str], None] = '0004_mail_outbox'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('chat_conversations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('topic', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('queued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('first_response_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_message_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('close_reason', sa.String(length=20), nullable=True),
    sa.Column('transfer_note', sa.Text(), nullable=False),
    sa.Column('rating', sa.Integer(), nullable=True),
    sa.Column('rating_comment', sa.Text(), nullable=False),
    sa.Column('rated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('transcript_sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_seq', sa.Integer(), nullable=False),
    sa.Column('enterprise_read_seq', sa.Integer(), nullable=False),
    sa.Column('staff_read_seq', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_chat_conversations_department_id_departments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_chat_conversations_enterprise_id_enterprises'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['staff_id'], ['users.id'], name=op.f('fk_chat_conversations_staff_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_chat_conversations_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chat_conversations'))
    )
    with op.batch_alter_table('chat_conversations', schema=None) as batch_op:
        batch_op.create_index('ix_chat_conversations_department_state', ['department_id', 'state'], unique=False)
        batch_op.create_index(batch_op.f('ix_chat_conversations_enterprise_id'), ['enterprise_id'], unique=False)
        batch_op.create_index('ix_chat_conversations_staff_state', ['staff_id', 'state'], unique=False)
        batch_op.create_index(batch_op.f('ix_chat_conversations_user_id'), ['user_id'], unique=False)

    op.create_table('chat_attachments',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('media_type', sa.String(length=100), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['chat_conversations.id'], name=op.f('fk_chat_attachments_conversation_id_chat_conversations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['users.id'], name=op.f('fk_chat_attachments_uploaded_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chat_attachments'))
    )
    with op.batch_alter_table('chat_attachments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_chat_attachments_conversation_id'), ['conversation_id'], unique=False)

    op.create_table('chat_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('sender_id', sa.Integer(), nullable=True),
    sa.Column('sender_side', sa.String(length=10), nullable=False),
    sa.Column('sender_name', sa.String(length=50), nullable=False),
    sa.Column('client_msg_id', sa.String(length=64), nullable=True),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('attachment_id', sa.String(length=32), nullable=True),
    sa.Column('data', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['attachment_id'], ['chat_attachments.id'], name=op.f('fk_chat_messages_attachment_id_chat_attachments'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['conversation_id'], ['chat_conversations.id'], name=op.f('fk_chat_messages_conversation_id_chat_conversations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sender_id'], ['users.id'], name=op.f('fk_chat_messages_sender_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chat_messages')),
    sa.UniqueConstraint('conversation_id', 'sender_id', 'client_msg_id', name='uq_chat_messages_conversation_sender_client'),
    sa.UniqueConstraint('conversation_id', 'seq', name='uq_chat_messages_conversation_seq')
    )

    op.create_table('chat_staff_presence',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('seen_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_assigned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_chat_staff_presence_department_id_departments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_chat_staff_presence_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_chat_staff_presence'))
    )
    with op.batch_alter_table('chat_staff_presence', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_chat_staff_presence_department_id'), ['department_id'], unique=False)

    op.create_table('chat_canned_replies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=100), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_chat_canned_replies_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_chat_canned_replies_department_id_departments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chat_canned_replies'))
    )
    with op.batch_alter_table('chat_canned_replies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_chat_canned_replies_department_id'), ['department_id'], unique=False)

    op.create_table('chat_transfers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('by_id', sa.Integer(), nullable=True),
    sa.Column('from_staff_id', sa.Integer(), nullable=True),
    sa.Column('from_department_id', sa.Integer(), nullable=False),
    sa.Column('to_staff_id', sa.Integer(), nullable=True),
    sa.Column('to_department_id', sa.Integer(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['by_id'], ['users.id'], name=op.f('fk_chat_transfers_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['conversation_id'], ['chat_conversations.id'], name=op.f('fk_chat_transfers_conversation_id_chat_conversations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['from_department_id'], ['departments.id'], name=op.f('fk_chat_transfers_from_department_id_departments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['from_staff_id'], ['users.id'], name=op.f('fk_chat_transfers_from_staff_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['to_department_id'], ['departments.id'], name=op.f('fk_chat_transfers_to_department_id_departments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['to_staff_id'], ['users.id'], name=op.f('fk_chat_transfers_to_staff_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chat_transfers'))
    )
    with op.batch_alter_table('chat_transfers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_chat_transfers_conversation_id'), ['conversation_id'], unique=False)


def downgrade() -> None:
    op.drop_table('chat_transfers')
    op.drop_table('chat_canned_replies')
    op.drop_table('chat_staff_presence')
    op.drop_table('chat_messages')
    op.drop_table('chat_attachments')
    op.drop_table('chat_conversations')
