/* SPDX-License-Identifier: MIT */
/* A test-only module without the descriptor symbol. */
int mqb_not_a_descriptor(void);
int mqb_not_a_descriptor(void)
{
	return 0;
}
