"""meetings: availability, bookings, recordings, minutes

Revision ID: 0006_meetings
Revises: 0005_chat
Create Date: 2026-11-21

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# Frozen copies of portal.meetings.models' DDL: a migration must not change when the
# models do.
OVERLAP_CONSTRAINT = 'ex_meeting_bookings_no_overlap'
_ACTIVE = "('requested', 'confirmed', 'rescheduled')"
_OVERLAP_WHEN = f'''NEW.state IN {_ACTIVE} AND EXISTS (
        SELECT 1 FROM meeting_bookings AS b
        WHERE b.head_id = NEW.head_id AND b.id IS NOT NEW.id
          AND b.state IN {_ACTIVE}
          AND b.blocked_from < NEW.blocked_until AND NEW.blocked_from < b.blocked_until)'''
SQLITE_TRIGGERS = (
    f'''CREATE TRIGGER tr_meeting_bookings_no_overlap_insert
    BEFORE INSERT ON meeting_bookings
    WHEN {_OVERLAP_WHEN}
    BEGIN SELECT RAISE(ABORT, '{OVERLAP_CONSTRAINT}'); END''',
    f'''CREATE TRIGGER tr_meeting_bookings_no_overlap_update
    BEFORE UPDATE OF head_id, state, blocked_from, blocked_until ON meeting_bookings
    WHEN {_OVERLAP_WHEN}
    BEGIN SELECT RAISE(ABORT, '{OVERLAP_CONSTRAINT}'); END''',
)


revision: str = '0006_meetings'
down_revision: Union[str, Sequence[str], None] = '0005_chat'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('meeting_slot_rules',
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('length_minutes', sa.Integer(), nullable=False),
    sa.Column('interval_minutes', sa.Integer(), nullable=False),
    sa.Column('buffer_before_minutes', sa.Integer(), nullable=False),
    sa.Column('buffer_after_minutes', sa.Integer(), nullable=False),
    sa.Column('min_notice_minutes', sa.Integer(), nullable=False),
    sa.Column('horizon_days', sa.Integer(), nullable=False),
    sa.Column('daily_cap', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('length_minutes > 0', name=op.f('ck_meeting_slot_rules_length_positive')),
    sa.CheckConstraint('interval_minutes > 0', name=op.f('ck_meeting_slot_rules_interval_positive')),
    sa.CheckConstraint('buffer_before_minutes >= 0 AND buffer_after_minutes >= 0', name=op.f('ck_meeting_slot_rules_buffers')),
    sa.CheckConstraint('min_notice_minutes >= 0', name=op.f('ck_meeting_slot_rules_notice')),
    sa.CheckConstraint('horizon_days > 0', name=op.f('ck_meeting_slot_rules_horizon')),
    sa.CheckConstraint('daily_cap > 0', name=op.f('ck_meeting_slot_rules_daily_cap')),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_meeting_slot_rules_department_id_departments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('department_id', name=op.f('pk_meeting_slot_rules')),
    )
    op.create_table('meeting_weekly_availability',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('head_id', sa.Integer(), nullable=False),
    sa.Column('weekday', sa.Integer(), nullable=False),
    sa.Column('start_time', sa.Time(), nullable=False),
    sa.Column('end_time', sa.Time(), nullable=False),
    sa.CheckConstraint('weekday >= 0 AND weekday <= 6', name=op.f('ck_meeting_weekly_availability_weekday')),
    sa.CheckConstraint('start_time < end_time', name=op.f('ck_meeting_weekly_availability_order')),
    sa.ForeignKeyConstraint(['head_id'], ['users.id'], name=op.f('fk_meeting_weekly_availability_head_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meeting_weekly_availability')),
    )
    with op.batch_alter_table('meeting_weekly_availability', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_meeting_weekly_availability_head_id'), ['head_id'], unique=False)

    op.create_table('meeting_availability_overrides',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('head_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('start_time', sa.Time(), nullable=True),
    sa.Column('end_time', sa.Time(), nullable=True),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.CheckConstraint('(start_time IS NULL AND end_time IS NULL) OR (start_time < end_time)', name=op.f('ck_meeting_availability_overrides_times')),
    sa.ForeignKeyConstraint(['head_id'], ['users.id'], name=op.f('fk_meeting_availability_overrides_head_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meeting_availability_overrides')),
    )
    with op.batch_alter_table('meeting_availability_overrides', schema=None) as batch_op:
        batch_op.create_index('ix_meeting_availability_overrides_head_day', ['head_id', 'day'], unique=False)

    op.create_table('meeting_bookings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uid', sa.String(length=100), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('head_id', sa.Integer(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('requester_id', sa.Integer(), nullable=False),
    sa.Column('topic', sa.String(length=200), nullable=False),
    sa.Column('details', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('blocked_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('blocked_until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('proposed_by', sa.String(length=20), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('starts_at < ends_at', name=op.f('ck_meeting_bookings_order')),
    sa.CheckConstraint('blocked_from <= starts_at AND ends_at <= blocked_until', name=op.f('ck_meeting_bookings_blocked')),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_meeting_bookings_department_id_departments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['head_id'], ['users.id'], name=op.f('fk_meeting_bookings_head_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_meeting_bookings_enterprise_id_enterprises'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['requester_id'], ['users.id'], name=op.f('fk_meeting_bookings_requester_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meeting_bookings')),
    sa.UniqueConstraint('uid', name=op.f('uq_meeting_bookings_uid')),
    )
    with op.batch_alter_table('meeting_bookings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_meeting_bookings_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_meeting_bookings_enterprise_id'), ['enterprise_id'], unique=False)
        batch_op.create_index('ix_meeting_bookings_head_start', ['head_id', 'starts_at'], unique=False)
        batch_op.create_index('ix_meeting_bookings_state_start', ['state', 'starts_at'], unique=False)

    # No double booking, enforced by the database (see portal/meetings/models.py).
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('CREATE EXTENSION IF NOT EXISTS btree_gist')
        op.execute(
            f'ALTER TABLE meeting_bookings ADD CONSTRAINT {OVERLAP_CONSTRAINT} '
            'EXCLUDE USING gist (head_id WITH =, tstzrange(blocked_from, blocked_until) WITH &&) '
            "WHERE (state IN ('requested', 'confirmed', 'rescheduled'))"
        )
    else:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)

    op.create_table('meeting_booking_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('booking_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('from_state', sa.String(length=20), nullable=False),
    sa.Column('to_state', sa.String(length=20), nullable=False),
    sa.Column('side', sa.String(length=20), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('previous_start', sa.DateTime(timezone=True), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['booking_id'], ['meeting_bookings.id'], name=op.f('fk_meeting_booking_events_booking_id_meeting_bookings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_meeting_booking_events_actor_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meeting_booking_events')),
    )
    with op.batch_alter_table('meeting_booking_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_meeting_booking_events_booking_id'), ['booking_id'], unique=False)

    op.create_table('meeting_booking_materials',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('booking_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('media_type', sa.String(length=100), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['booking_id'], ['meeting_bookings.id'], name=op.f('fk_meeting_booking_materials_booking_id_meeting_bookings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['users.id'], name=op.f('fk_meeting_booking_materials_uploaded_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meeting_booking_materials')),
    )
    with op.batch_alter_table('meeting_booking_materials', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_meeting_booking_materials_booking_id'), ['booking_id'], unique=False)


def downgrade() -> None:
    op.drop_table('meeting_booking_materials')
    op.drop_table('meeting_booking_events')
    op.drop_table('meeting_bookings')
    op.drop_table('meeting_availability_overrides')
    op.drop_table('meeting_weekly_availability')
    op.drop_table('meeting_slot_rules')
