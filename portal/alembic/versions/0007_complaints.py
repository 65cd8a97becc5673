"""complaints: cases, steps, deadlines

Revision ID: 0007_complaints
Revises: 0006_meetings
Create Date: 2026-11-21

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0007_complaints'
down_revision: Union[str, Sequence[str], None] = '0006b_meeting_room'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('case_categories',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('group', sa.String(length=40), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('lead_department_id', sa.Integer(), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['lead_department_id'], ['departments.id'], name=op.f('fk_case_categories_lead_department_id_departments'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_categories')),
    sa.UniqueConstraint('code', name=op.f('uq_case_categories_code'))
    )
    op.create_table('case_category_assists',
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['category_id'], ['case_categories.id'], name=op.f('fk_case_category_assists_category_id_case_categories'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_case_category_assists_department_id_departments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('category_id', 'department_id', name=op.f('pk_case_category_assists'))
    )
    op.create_table('cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('source_ref', sa.Integer(), nullable=True),
    sa.Column('enterprise_id', sa.Integer(), nullable=True),
    sa.Column('opened_by_id', sa.Integer(), nullable=True),
    sa.Column('contact_name', sa.String(length=50), nullable=False),
    sa.Column('contact_email', sa.String(length=254), nullable=False),
    sa.Column('contact_phone', sa.String(length=30), nullable=False),
    sa.Column('requested_department_id', sa.Integer(), nullable=True),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('owner_department_id', sa.Integer(), nullable=True),
    sa.Column('merged_into_id', sa.Integer(), nullable=True),
    sa.Column('address', sa.String(length=200), nullable=False),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('long', sa.Float(), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('dispatched_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('signed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('first_reply_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('handling_seconds', sa.Integer(), nullable=True),
    sa.Column('sign_due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reply_due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('close_due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('paused_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('return_count', sa.Integer(), nullable=False),
    sa.Column('extension_count', sa.Integer(), nullable=False),
    sa.Column('rating', sa.Integer(), nullable=True),
    sa.Column('supervised', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['category_id'], ['case_categories.id'], name=op.f('fk_cases_category_id_case_categories'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_cases_department_id_departments'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_cases_enterprise_id_enterprises'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['merged_into_id'], ['cases.id'], name=op.f('fk_cases_merged_into_id_cases'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['opened_by_id'], ['users.id'], name=op.f('fk_cases_opened_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['owner_department_id'], ['departments.id'], name=op.f('fk_cases_owner_department_id_departments'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['requested_department_id'], ['departments.id'], name=op.f('fk_cases_requested_department_id_departments'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cases'))
    )
    op.create_index('ix_cases_closed_at', 'cases', ['closed_at'], unique=False)
    op.create_index('ix_cases_department_received', 'cases', ['department_id', 'received_at'], unique=False)
    op.create_index(op.f('ix_cases_enterprise_id'), 'cases', ['enterprise_id'], unique=False)
    op.create_index(op.f('ix_cases_merged_into_id'), 'cases', ['merged_into_id'], unique=False)
    op.create_index('ix_cases_open_close_due', 'cases', ['close_due_at'], unique=False, postgresql_where=sa.text('closed_at IS NULL'), sqlite_where=sa.text('closed_at IS NULL'))
    op.create_index(op.f('ix_cases_opened_by_id'), 'cases', ['opened_by_id'], unique=False)
    op.create_index(op.f('ix_cases_owner_department_id'), 'cases', ['owner_department_id'], unique=False)
    op.create_index('ix_cases_received_at', 'cases', ['received_at'], unique=False)
    op.create_index(op.f('ix_cases_state'), 'cases', ['state'], unique=False)
    op.create_table('case_alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('clock', sa.String(length=10), nullable=False),
    sa.Column('level', sa.String(length=10), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_alerts_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_case_alerts_department_id_departments'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_alerts')),
    sa.UniqueConstraint('case_id', 'clock', 'level', 'due_at', name=op.f('uq_case_alerts_case_id'))
    )
    op.create_index(op.f('ix_case_alerts_created_at'), 'case_alerts', ['created_at'], unique=False)
    op.create_index(op.f('ix_case_alerts_department_id'), 'case_alerts', ['department_id'], unique=False)
    op.create_table('case_assists',
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_assists_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_case_assists_department_id_departments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('case_id', 'department_id', name=op.f('pk_case_assists'))
    )
    op.create_table('case_attachments',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('media_type', sa.String(length=100), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_attachments_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['users.id'], name=op.f('fk_case_attachments_uploaded_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_attachments'))
    )
    op.create_index(op.f('ix_case_attachments_case_id'), 'case_attachments', ['case_id'], unique=False)
    op.create_table('case_extensions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('previous_due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('requested_due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decision', sa.String(length=10), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_extensions_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_case_extensions_decided_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_case_extensions_department_id_departments'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_case_extensions_requested_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_extensions'))
    )
    op.create_index(op.f('ix_case_extensions_case_id'), 'case_extensions', ['case_id'], unique=False)
    op.create_index(op.f('ix_case_extensions_decided_at'), 'case_extensions', ['decided_at'], unique=False)
    op.create_index(op.f('ix_case_extensions_decision'), 'case_extensions', ['decision'], unique=False)
    op.create_index(op.f('ix_case_extensions_requested_at'), 'case_extensions', ['requested_at'], unique=False)
    op.create_table('case_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('public', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('approved_by_id', sa.Integer(), nullable=True),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['approved_by_id'], ['users.id'], name=op.f('fk_case_messages_approved_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_case_messages_author_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_messages_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_case_messages_department_id_departments'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_messages'))
    )
    op.create_index(op.f('ix_case_messages_case_id'), 'case_messages', ['case_id'], unique=False)
    op.create_table('case_ratings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('rated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_ratings_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_case_ratings_department_id_departments'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_case_ratings_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_ratings')),
    sa.UniqueConstraint('case_id', 'round', name=op.f('uq_case_ratings_case_id'))
    )
    op.create_index(op.f('ix_case_ratings_case_id'), 'case_ratings', ['case_id'], unique=False)
    op.create_index(op.f('ix_case_ratings_rated_at'), 'case_ratings', ['rated_at'], unique=False)
    op.create_table('case_returns',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decision', sa.String(length=10), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_returns_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_case_returns_decided_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_case_returns_department_id_departments'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_case_returns_requested_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_returns'))
    )
    op.create_index(op.f('ix_case_returns_case_id'), 'case_returns', ['case_id'], unique=False)
    op.create_index(op.f('ix_case_returns_decision'), 'case_returns', ['decision'], unique=False)
    op.create_index('ix_case_returns_department_requested', 'case_returns', ['department_id', 'requested_at'], unique=False)
    op.create_index(op.f('ix_case_returns_requested_at'), 'case_returns', ['requested_at'], unique=False)
    op.create_table('case_steps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=30), nullable=False),
    sa.Column('from_state', sa.String(length=20), nullable=False),
    sa.Column('to_state', sa.String(length=20), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_case_steps_actor_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_steps_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_case_steps_department_id_departments'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_steps'))
    )
    op.create_index(op.f('ix_case_steps_case_id'), 'case_steps', ['case_id'], unique=False)
    op.create_table('case_rectifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('rating_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('followup_note', sa.Text(), nullable=False),
    sa.Column('followup_by_id', sa.Integer(), nullable=True),
    sa.Column('followup_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_rectifications_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_case_rectifications_department_id_departments'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['followup_by_id'], ['users.id'], name=op.f('fk_case_rectifications_followup_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['rating_id'], ['case_ratings.id'], name=op.f('fk_case_rectifications_rating_id_case_ratings'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_rectifications'))
    )
    op.create_index(op.f('ix_case_rectifications_case_id'), 'case_rectifications', ['case_id'], unique=False)
    op.create_index(op.f('ix_case_rectifications_opened_at'), 'case_rectifications', ['opened_at'], unique=False)


def downgrade() -> None:
    op.drop_table('case_rectifications')
    op.drop_table('case_steps')
    op.drop_table('case_returns')
    op.drop_table('case_ratings')
    op.drop_table('case_messages')
    op.drop_table('case_extensions')
    op.drop_table('case_attachments')
    op.drop_table('case_assists')
    op.drop_table('case_alerts')
    op.drop_table('cases')
    op.drop_table('case_category_assists')
    op.drop_table('case_categories')
